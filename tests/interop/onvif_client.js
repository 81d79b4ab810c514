// An independent ONVIF client (the npm package `onvif`, agsh/onvif) against our simulated
// cameras: WS-Discovery on loopback, then for each device found: connect (GetSystemDateAndTime,
// GetServices, GetProfiles, GetVideoSources), GetDeviceInformation, GetStreamUri.
// Usage: node onvif_client.js USER PASSWORD   (NODE_PATH names the folder holding `onvif`)
// Prints one JSON document: {"devices": [{"urn", "hostname", "port", "info", "stream", "time"}], "errors": []}
'use strict';
const onvif = require('onvif');
const [user, password] = process.argv.slice(2);

function call(cam, method, ...args) {
	return new Promise((resolve, reject) => cam[method](...args, (err, result) => err ? reject(err) : resolve(result)));
}

onvif.Discovery.probe({timeout: 1500, resolve: true, device: 'lo'}, async (err, cams) => {
	const out = {devices: [], errors: []};
	if (err && !cams) {
		out.errors.push(String(err));
	}
	for (const cam of cams || []) {
		cam.username = user;
		cam.password = password;
		try {
			await call(cam, 'connect');
			const info = await call(cam, 'getDeviceInformation');
			const stream = await call(cam, 'getStreamUri', {protocol: 'RTSP'});
			const time = await call(cam, 'getSystemDateAndTime');
			out.devices.push({urn: cam.urn, hostname: cam.hostname, port: cam.port, info, stream: stream.uri,
				time: time.toISOString()});
		} catch (e) {
			out.errors.push(`${cam.hostname}:${cam.port}: ${e.message || e}`);
		}
	}
	process.stdout.write(JSON.stringify(out) + '\n');
	process.exit(0);
});
