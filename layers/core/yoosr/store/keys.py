"""Every key in every table, in one place. Each starts with the workspace id."""

from __future__ import annotations

WORKSPACE_SK = "WORKSPACE"
WIDGET_KEY_PREFIX = "WIDGETKEY#"
CONVERSATION_SK = "CONV"
MESSAGE_PREFIX = "MSG#"
# "~" sorts after every Crockford base32 character: the upper bound of a message range.
MESSAGE_RANGE_END = "MSG#~"
CLIENT_MESSAGE_PREFIX = "CMID#"
CLIENT_CONVERSATION_PREFIX = "CCID#"
CSAT_SK = "CSAT"
VISITOR_SK = "VISITOR"
IDENTITY_SK = "IDENTITY"
SESSION_SK = "SESSION"


def workspace(ws: str) -> tuple[str, str]:
    return ws, WORKSPACE_SK


def widget_key(ws: str, key_id: str) -> tuple[str, str]:
    return ws, WIDGET_KEY_PREFIX + key_id


def agent(ws: str, user_id: str) -> tuple[str, str]:
    return ws, f"AGENT#{user_id}"


def conversation_pk(ws: str, conversation_id: str) -> str:
    return f"{ws}#CONV#{conversation_id}"


def conversation(ws: str, conversation_id: str) -> tuple[str, str]:
    return conversation_pk(ws, conversation_id), CONVERSATION_SK


def visitor_pk(ws: str, visitor_id: str) -> str:
    return f"{ws}#VISITOR#{visitor_id}"


def visitor(ws: str, visitor_id: str) -> tuple[str, str]:
    return visitor_pk(ws, visitor_id), VISITOR_SK


def identity(ws: str, user_key: str) -> tuple[str, str]:
    return f"{ws}#IDENTITY#{user_key}", IDENTITY_SK


def session(ws: str, token_digest: str) -> tuple[str, str]:
    return f"{ws}#SESSION#{token_digest}", SESSION_SK


def rate_window(ws: str, dimension: str, subject: str, window_start: int) -> tuple[str, str]:
    return f"{ws}#RATE#{dimension}#{subject}", str(window_start)


def ai_budget(ws: str, day: str) -> tuple[str, str]:
    """The workspace's AI token use on one UTC day (Ephemeral table)."""
    return f"{ws}#AIBUDGET", day


# The bot (Workspaces table): one config item, the flows, the knowledge entries.
BOT_CONFIG_SK = "BOT"
BOT_FLOW_PREFIX = "FLOW#"
KNOWLEDGE_PREFIX = "KB#"


def bot_config(ws: str) -> tuple[str, str]:
    return ws, BOT_CONFIG_SK


def bot_flow(ws: str, flow_id: str) -> tuple[str, str]:
    return ws, BOT_FLOW_PREFIX + flow_id


def knowledge_entry(ws: str, entry_id: str) -> tuple[str, str]:
    return ws, KNOWLEDGE_PREFIX + entry_id
