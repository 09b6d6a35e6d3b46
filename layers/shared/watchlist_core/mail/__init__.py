"""Account mail: the requests the API queues (jobs.py) and SES, which the mail function sends them through (ses.py)."""
