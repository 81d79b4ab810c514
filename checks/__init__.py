"""The pre-exam check of the machines: software, antivirus, integrity, cameras.

Built in the issue «The pre-exam check»; the package exists now so that the layout
and the wheel are what they will be.
"""
