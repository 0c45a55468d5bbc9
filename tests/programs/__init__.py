"""End-to-end programs of the kinds users write (issue 15), each checked against a closed form
or numerical differentiation. The shared settings of ``tests/conftest.py`` apply here too."""
