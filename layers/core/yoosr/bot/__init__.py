"""The bot: flows (model and validation), the flow engine, knowledge-base retrieval, masking and
sanitising, and the pieces that turn a model's reply into an answer or a handoff. Pure Python:
no boto3, no environment reads, no clock reads."""
