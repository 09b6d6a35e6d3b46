"""Amazon SES (the v2 API's SendEmail) for the mail function: plain text mails from the configured sender."""

from __future__ import annotations

import threading
from typing import Any

from watchlist_core import tracing
from watchlist_core.settings import Settings

# What SES answers for this message alone: sending it again cannot succeed (an address it refuses, a malformed
# one). Anything else (throttling, a paused account, an unverified sender, no answer) may pass later: retried.
_REFUSALS_OF_THE_MESSAGE = frozenset({"MessageRejected", "BadRequestException", "InvalidParameterValue"})


class MailRefusedError(Exception):
    """SES refused this message for good."""


class SesMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    def send(self, to: str, subject: str, text: str) -> str:
        """The message id SES gave it; MailRefusedError when SES will never take it; any other error: try later."""
        from botocore.exceptions import ClientError

        extra = (
            {"ConfigurationSetName": self._settings.ses_configuration_set}
            if self._settings.ses_configuration_set
            else {}
        )
        try:
            answer = self._ses().send_email(
                FromEmailAddress=self._settings.mail_sender,
                Destination={"ToAddresses": [to]},
                Content={
                    "Simple": {
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                    }
                },
                **extra,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _REFUSALS_OF_THE_MESSAGE:
                raise MailRefusedError(error.response["Error"]["Code"]) from error
            raise
        return str(answer["MessageId"])

    def _ses(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "sesv2",
                    region_name=self._settings.aws_region,
                    endpoint_url=self._settings.ses_endpoint_url,
                    # A throttled send is retried here a little, then by the queue with a longer back-off.
                    config=Config(
                        connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3}
                    ),
                )
                tracing.watch_aws_calls(self._client)
            return self._client
