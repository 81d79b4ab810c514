"""The pre-exam check of the machines: software, antivirus, integrity, cameras.

`model` has the verdicts, `runner` runs checks in parallel with a timeout each,
`builtin` lists the checks by their stable ids, and one module per area does the
looking (`system`, `software`, `antivirus`, `integrity`, `network`). `report` turns
results into text, JSON and JUnit; `schedule` and `watch` run around the exam.
Nothing here imports the CLI.
"""
