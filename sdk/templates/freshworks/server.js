// freshworks-starter: a Freshworks-style serverless app.
//   POST /workspaces/:ws/freshworks-starter/remind {"text": "…", "at": "<ISO time, 5+ min ahead>"}
//     creates a one-time $schedule (name: "name" in the body, or one made up);
//   GET  /workspaces/:ws/freshworks-starter/remind lists the reminders that have fired.
// When a schedule fires, the host calls onScheduledEventHandler (named in plugin.json's
// events.onScheduledEvent), which stores the reminder in $db.
exports = {
  run: function (eventData) {
    var req = eventData.request;
    var res = eventData.response;
    if (req.method === 'GET') {
      return $db.get('fired').then(function (value) {
        res.json({ fired: value.items });
      }, function (err) {
        if (err.status === 404) res.json({ fired: [] }); // nothing has fired yet
        else res.status(500).json(err);
      });
    }
    var body = req.body || {};
    var name = body.name || 'reminder-' + Date.now();
    return $schedule.create({ name: name, data: { text: String(body.text || '') }, schedule_at: body.at }).then(function () {
      res.status(201).json({ scheduled: name, at: body.at });
    }, function (err) {
      // {status, message}: 400 invalid (e.g. under 5 minutes ahead), 409 name taken, 429 too many.
      res.status(err.status).json(err);
    });
  },

  onScheduledEventHandler: function (payload) {
    var entry = { name: payload.schedule.name, text: payload.data.text, at: new Date(payload.timestamp).toISOString() };
    console.log('reminder ' + entry.name + ': ' + entry.text);
    return $db.set('fired', { items: [] }, { setIf: 'not_exist' }).catch(function (err) {
      if (err.status !== 409) throw err; // 409: the list is there already
    }).then(function () {
      return $db.update('fired', 'append', { items: [entry] });
    });
  },
};
