// Haplo integration messages (seed 002): student events are queued as messages and carried to
// two external systems.
//   student       (send) pushed as one XML batch to the student records system (SIS) at
//                 06:00 every day (hScheduleDailyEarly, in the workspace's time zone);
//   student-poll  (poll) fetched by another system through Haplo's poll API, in Haplo's
//                 default JSON, 16 oldest at a time, marked with the token it got.
//   POST /workspaces/:ws/students/events {event, student: {id, name, course?}} (or a list)
// adds each event to both queues. A message holds everything its receivers need, so the
// formatter never reads anything else.
var SEND = 'student';
var POLL = 'student-poll';
var EVENTS = ['enrolled', 'updated', 'withdrawn'];

P.implementService("haplo:integration-message:discover", function(discover) {
    discover({
        group: "student",
        method: "send",
        title: "Student Records System update messages",
        description: "Send messages to student records system in response to events"
    });
    discover({
        group: "student-poll",
        method: "poll",
        title: "Student updates for polling systems",
        description: "The same events, fetched by other systems through the poll API"
    });
});

function xml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// The SIS takes XML. Messages are {id, datetime, data}; the token names exactly this batch.
P.implementService("haplo:integration-message:write-messages:student", function (messages, token) {
  var lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<studentUpdates token="' + xml(token) + '">'];
  messages.forEach(function (m) {
    var d = m.data;
    lines.push('  <update id="' + m.id + '" datetime="' + xml(m.datetime) + '" event="' + xml(d.event) + '">' +
      '<student id="' + xml(d.studentId) + '"><name>' + xml(d.name) + '</name><course>' + xml(d.course) + '</course></student></update>');
  });
  lines.push('</studentUpdates>');
  return O.binaryData(lines.join('\n'), { mimeType: 'application/xml', filename: 'student-updates.xml' });
});

// Where a batch goes; as Haplo's O.httpClient(), set URL, method and headers.
P.implementService("haplo:integration-message:setup-http-request:student", function (http, messages) {
  http.url('https://sis.example.com/api/student-updates').method('PUT').header('X-Batch-Size', String(messages.length));
});

P.hook('hScheduleDailyEarly', function (response, year, month0to11, dayOfMonth) {
  console.log('sending the student queue for ' + year + '-' + (month0to11 + 1) + '-' + dayOfMonth);
  // Throws when the SIS does not answer 2xx: the messages stay unsent, the queue records the
  // error, and the hook's run fails (and is retried).
  O.service("haplo:integration-message:send", { group: SEND });
});

function problem(e, i) {
  var where = 'events[' + i + ']';
  if (!e || typeof e !== 'object') return where + ' must be an object';
  if (EVENTS.indexOf(e.event) < 0) return where + '.event must be one of ' + EVENTS.join(', ');
  if (!e.student || !e.student.id || !e.student.name) return where + '.student needs an id and a name';
  return null;
}

exports.run = function (eventData) {
  var req = eventData.request;
  var res = eventData.response;
  if (req.method !== 'POST') {
    return res.status(405).json({ error: 'POST {"event": "enrolled", "student": {"id": "S1", "name": "Ada Lovelace", "course": "Mathematics"}} (or a list of them)' });
  }
  var events = Array.isArray(req.body) ? req.body : [req.body];
  var problems = events.map(problem).filter(function (p) { return p; });
  if (events.length === 0 || events.length > 500) problems.push('send 1 to 500 events');
  if (problems.length) return res.status(400).json({ error: problems.join('; ') });

  var ids = { student: [], 'student-poll': [] };
  events.forEach(function (e) {
    var data = { event: e.event, studentId: String(e.student.id), name: String(e.student.name), course: String(e.student.course || '') };
    ids[SEND].push(O.service("haplo:integration-message:add", { group: SEND, data: data }));
    ids[POLL].push(O.service("haplo:integration-message:add", { group: POLL, data: data }));
  });
  console.log('queued ' + events.length + ' student event(s)');
  res.status(201).json({ added: events.length, ids: ids });
};
