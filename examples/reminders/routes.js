// The app's routes, driving Freshworks' $schedule (seed 001):
//   POST   /workspaces/:ws/reminders/remind  {text, at?: ISO, inMinutes?: 10, name?}  one-time schedule
//   GET    /workspaces/:ws/reminders/remind?name=…                                  $schedule.fetch
//   DELETE /workspaces/:ws/reminders/remind?name=…                                  $schedule.delete
//   POST   /workspaces/:ws/reminders/digest  {everyMinutes?: 60, start?: ISO}        the recurring digest (create or update)
//   DELETE /workspaces/:ws/reminders/digest                                          stop it
//   GET    /workspaces/:ws/reminders/fired                                           what has fired, from $db
// $schedule rejects with {status, message}; the routes answer with that status and object.
var MINUTE = 60 * 1000;

function fail(res) {
  return function (err) {
    res.status(err && err.status ? err.status : 500).json(err);
  };
}

/** `at`, else `inMinutes` (default `fallback`) from now; $schedule wants it 5+ minutes ahead. */
function when(body, fallbackMinutes) {
  if (body.at) return String(body.at);
  var minutes = Number(body.inMinutes || fallbackMinutes);
  return new Date(Date.now() + minutes * MINUTE).toISOString();
}

function remind(req, res) {
  var body = req.body || {};
  if (req.method === 'GET' || req.method === 'DELETE') {
    var name = String(req.query.name || '');
    var op = req.method === 'GET' ? $schedule.fetch({ name: name }) : $schedule.delete({ name: name });
    return op.then(function (value) { res.json(value); }, fail(res));
  }
  if (req.method !== 'POST') return res.status(405).json({ status: 405, message: 'use POST, GET or DELETE' });
  if (!body.text) return res.status(400).json({ status: 400, message: 'give the reminder a "text"' });
  var spec = {
    name: String(body.name || 'reminder-' + Date.now().toString(36)),
    data: { kind: 'reminder', text: String(body.text) },
    schedule_at: when(body, 10),
  };
  return $schedule.create(spec).then(function () {
    res.status(201).json({ name: spec.name, schedule_at: spec.schedule_at });
  }, fail(res));
}

function digest(req, res) {
  if (req.method === 'DELETE') {
    return $schedule.delete({ name: 'digest' }).then(function (value) { res.json(value); }, fail(res));
  }
  if (req.method !== 'POST') return res.status(405).json({ status: 405, message: 'use POST or DELETE' });
  var body = req.body || {};
  var everyMinutes = Number(body.everyMinutes || 60);
  var spec = {
    name: 'digest',
    data: { kind: 'digest', everyMinutes: everyMinutes },
    schedule_at: body.start ? String(body.start) : when({}, 6),
    repeat: { time_unit: 'minutes', frequency: everyMinutes },
  };
  // One recurring schedule per installation: a second POST changes it.
  return $schedule.create(spec).then(function () {
    res.status(201).json({ created: spec });
  }, function (err) {
    if (err.status !== 409) throw err;
    return $schedule.update(spec).then(function () { res.json({ updated: spec }); });
  }).catch(fail(res));
}

function fired(req, res) {
  return $db.get('fired').then(function (value) {
    res.json({ fired: value.items });
  }, function (err) {
    if (err.status === 404) return res.json({ fired: [] }); // nothing has fired yet
    fail(res)(err);
  });
}

exports.run = function (eventData) {
  var route = eventData.request.params.pluginRoute;
  var handler = route === 'remind' ? remind : route === 'digest' ? digest : fired;
  return handler(eventData.request, eventData.response);
};
