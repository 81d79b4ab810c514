"""ONVIF: our own small client for the Profile S operations ppe-tech needs.

`soap` (bounded HTTP exchanges, WS-UsernameToken against the camera's clock, HTTP
digest), `client` (the operations on one camera), `discovery` (WS-Discovery probe),
`clock` (offsets, setting clocks on a second boundary, POSIX zones) and `survey` (what
`cameras discover` reports for each device, cameras in parallel).
"""
