// Egress: the only way plugin code reaches the network (fetch, requestify, zn-http, webhooks).
export { createEgressPolicy } from './egress-policy.ts';
export type { EgressPolicy, EgressPolicyOptions, EgressTarget, Lookup } from './egress-policy.ts';
export { createEgressClient, defaultEgressLimits } from './egress-client.ts';
export type {
  EgressCallOptions, EgressClient, EgressLimits, EgressRequest, EgressResponse,
} from './egress-client.ts';
export type { OutboundByteBudgets, OutboundBytesStats } from './outbound-bytes.ts';
