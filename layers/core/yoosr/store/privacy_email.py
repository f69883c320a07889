"""Privacy emails through SES (one-time codes). Only the address the subject named receives
one; the function may send only as the configured identity (template: ses:FromAddress)."""

from __future__ import annotations

from yoosr.store import aws


def send(sender: str, recipient: str, subject: str, text: str) -> None:
    aws.client("ses").send_email(
        Source=sender,
        Destination={"ToAddresses": [recipient]},
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
        },
    )
