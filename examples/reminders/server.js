// The app's event handler (seed 001), in Freshworks' idiom: `exports = {…}` with the handler
// named in plugin.json's events.onScheduledEvent. Each firing is posted to the chat service
// and recorded in $db under "fired". A reminder posts its text; the digest posts the
// reminders that fired since the previous digest.
var KEEP = 200; // entries kept under "fired" (one $db value holds at most 64 KiB)

function post(iparams, text) {
  return fetch('https://chat.example.com/api/messages', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + iparams.chatToken, 'content-type': 'application/json' },
    body: JSON.stringify({ channel: iparams.chatChannel || 'reminders', text: text }),
  }).then(function (res) {
    if (!res.ok) throw new Error('chat answered ' + res.status);
    return true;
  }).catch(function (err) {
    // The firing is still recorded; the run's log says why the chat did not get it.
    console.warn('could not post to chat: ' + (err && err.message));
    return false;
  });
}

function firedSoFar() {
  return $db.get('fired').then(function (value) { return value.items; }, function (err) {
    if (err.status === 404) return []; // nothing has fired yet
    throw err;
  });
}

function record(entry) {
  return $db.set('fired', { items: [] }, { setIf: 'not_exist' }).catch(function (err) {
    if (err.status !== 409) throw err; // 409: the list is there already
  }).then(function () {
    // `append` is one atomic update, so a reminder and the digest firing together both land.
    return $db.update('fired', 'append', { items: [entry] });
  }).catch(function (err) {
    if (err.status !== 400) throw err;
    // Over the value limit: keep the newest entries.
    return firedSoFar().then(function (items) {
      return $db.set('fired', { items: items.slice(1 - KEEP).concat([entry]) });
    });
  });
}

function digestText(items, sinceMs, nowMs) {
  var recent = items.filter(function (e) {
    var t = Date.parse(e.at);
    return e.kind === 'reminder' && t > sinceMs && t <= nowMs;
  });
  var lines = ['Digest: ' + recent.length + ' reminder(s) since ' + new Date(sinceMs).toISOString()];
  recent.forEach(function (e) { lines.push('- ' + e.text.replace(/^Reminder: /, '')); });
  return lines.join('\n');
}

exports = {
  onScheduledEventHandler: function (payload) {
    var at = new Date(payload.timestamp).toISOString(); // the occurrence's time, not the clock's
    return firedSoFar().then(function (items) {
      // A crashed run is run again with the same idempotencyKey: post and record it once.
      if (items.some(function (e) { return e.key === payload.idempotencyKey; })) {
        console.log('occurrence ' + payload.idempotencyKey + ' was handled already');
        return;
      }
      var text = 'Reminder: ' + payload.data.text;
      if (payload.data.kind === 'digest') {
        var previous = items.filter(function (e) { return e.kind === 'digest'; }).pop();
        var since = previous ? Date.parse(previous.at) : payload.timestamp - payload.data.everyMinutes * 60 * 1000;
        text = digestText(items, since, payload.timestamp);
      }
      console.log(payload.schedule.name + ' at ' + at + ': ' + text);
      return post(payload.iparams, text).then(function (delivered) {
        return record({ kind: payload.data.kind, name: payload.schedule.name, text: text, at: at, delivered: delivered, key: payload.idempotencyKey });
      });
    });
  },
};
