"""The surveillance cameras: probe, image health, snapshots, supervised recording.

Built in the issue «Cameras»; the package exists now so that the layout and the
wheel are what they will be.
"""
