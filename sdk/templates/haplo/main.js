// haplo-starter: a Haplo-style integration. It declares an integration-message queue,
// formats its messages as CSV, sends them to api.example.com every day at 06:00 (the
// workspace's time zone), and takes new messages on a route:
//   POST /workspaces/:ws/haplo-starter/add {"text": "…"}  →  {"id": <message id>}
var GROUP = 'haplo-starter';

// The queue shows in the admin API (GET /api/v1/workspaces/:ws/integration-messages).
P.implementService('haplo:integration-message:discover', function (discover) {
  discover({ group: GROUP, method: 'send', title: 'haplo-starter messages', description: 'Sent to api.example.com daily at 06:00' });
});

// The body of a batch: one CSV line per message. Optional: without it the host sends
// Haplo's JSON {version: 0, token, messages: [...]}.
P.implementService('haplo:integration-message:write-messages:' + GROUP, function (messages, token) {
  var lines = ['id,datetime,text'].concat(messages.map(function (m) {
    return [m.id, m.datetime, JSON.stringify(m.data.text || '')].join(',');
  }));
  return O.binaryData(lines.join('\n'), { mimeType: 'text/csv', filename: 'messages.csv' });
});

// Where the batch goes.
P.implementService('haplo:integration-message:setup-http-request:' + GROUP, function (http, messages) {
  http.url('https://api.example.com/messages').method('POST').header('X-Message-Count', String(messages.length));
});

P.hook('hScheduleDailyEarly', function (response, year, month0to11, dayOfMonth) {
  console.log('daily send ' + year + '-' + (month0to11 + 1) + '-' + dayOfMonth);
  // Synchronous, as in Haplo: formats and POSTs the unsent messages, then returns {sent: n}.
  // It throws (and the hook's run fails, to be retried) when the service does not answer 2xx.
  O.service('haplo:integration-message:send', { group: GROUP });
});

exports.run = function (eventData) {
  var text = eventData.request.body && eventData.request.body.text;
  if (eventData.request.method !== 'POST' || !text) {
    eventData.response.status(400).json({ error: 'POST {"text": "…"}' });
    return;
  }
  var id = O.service('haplo:integration-message:add', { group: GROUP, data: { text: String(text) } });
  eventData.response.status(201).json({ id: id });
};
