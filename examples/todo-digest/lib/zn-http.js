module.exports = require('zn-http');
