// zengine-starter: a Zengine-style plugin service.
//   GET or POST /workspaces/:ws/zengine-starter/summary?formId=1[&folderId=0]
// reads the form's records through zn-http, posts a summary to api.example.com with
// requestify, and answers with the summary. A scheduled webhook (POST) adds its times.
var znHttp = require('zn-http');
var requestify = require('requestify');

exports.run = function (eventData) {
  var req = eventData.request;
  var res = eventData.response;
  var formId = req.query.formId;
  if (!formId) {
    res.status(400).json({ error: 'give the form to summarise: ?formId=1' });
    return;
  }
  var folderId = req.query.folderId || 0;
  var schedule = req.body && req.body.data ? req.body.data : {};

  return znHttp().get('/forms/' + formId + '/records?folder.id=' + folderId).then(function (response) {
    var records = response.getBody().data;
    var summary = {
      scheduled: schedule.scheduled || null,
      count: records.length,
      lines: records.map(function (r) { return r.id + ' - ' + r.name; }),
    };
    console.log('posting a summary of ' + records.length + ' record(s)');
    return requestify.post('https://api.example.com/notify', summary).then(function () {
      res.status(200).json(summary);
    });
  }).catch(function (err) {
    // requestify and zn-http reject with the response on HTTP errors, with an Error otherwise.
    var reason = err && typeof err.getCode === 'function' ? 'HTTP ' + err.getCode() : String((err && err.message) || err);
    console.error('summary failed: ' + reason);
    res.status(502).json({ error: reason });
  });
};
