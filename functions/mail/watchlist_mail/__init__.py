"""The mail function: account mail from the mail queue, sent through Amazon SES."""
