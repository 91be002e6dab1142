// The capabilities plugin code can ask the host for, assembled from one file each.
export { dataOps } from './data.ts';
export { fdkRequestOps } from './fdk-request.ts';
export { httpOps } from './http.ts';
export { kvOps } from './kv.ts';
export { targetUrlOps } from './target-url.ts';
