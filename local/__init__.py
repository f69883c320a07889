"""Docker-free local stack: moto stands in for AWS; template.yaml gives resources and triggers.

Run it from the repository root with `python -m local` (what `make dev` runs). It starts a moto
server on loopback, creates the template's tables, queues, buckets and secrets in it, seeds demo
data (`local/seed.py`), serves the template's HttpApi routes as API Gateway payload 2.0 events to
the real handlers (each function in its own worker processes), polls DynamoDB stream (one
reader per stream, handing each consumer its copy) and SQS event sources, and writes
`.yoosr-local/credentials.json` once ready (removed on exit).

Environment:
    YOOSR_PORT               API port (default 3000; 0 picks a free one)
    YOOSR_MOTO_PORT          moto port (default 3001, a free one if that is taken; 0 = free)
    YOOSR_LOCAL_DIR          credentials.json and logs/ (default <repo>/.yoosr-local)
    YOOSR_LOCAL_CONCURRENCY  worker processes per function (default 4)
    YOOSR_LOCAL_PARAMETERS   template parameter overrides, "Key=Value Key2=Value2"
    YOOSR_LOCAL_PREWARM      0 = start workers on first use instead of at boot
    YOOSR_LOCAL_RELOAD       0 = keep workers when function or layer code changes
    YOOSR_LOCAL_LOG_FILES    0 = no logs/<Function>.log files
    YOOSR_LOCAL_SQS_WAIT_S   SQS ReceiveMessage wait (default 0: a short poll every 0.2 s)
    YOOSR_LOCAL_MODEL        the bot's model: off (default unless OPENROUTER_API_KEY is set:
                             knowledge-base answers and handoffs), local (the stand-in below)
                             or openrouter (the real one, with OPENROUTER_API_KEY)

Local-only endpoints (see local/server.py): GET /_local/health, GET /_local/routes,
GET /_local/schedules, POST /_local/schedules/<Function>/<Event>, POST /_local/invoke/<Function>,
POST /_local/drain?timeout=30, GET /_local/clerk/.well-known/jwks.json (the development Clerk
issuer: ClerkIssuer and ClerkAuthorizedParties point at the stack unless overridden),
POST /_local/openrouter/api/v1/chat/completions (a deterministic stand-in for OpenRouter that
answers from the knowledge entries in the prompt; local/model.py).
`drain` answers 200 {"drained": true} once every stream and queue poller has found nothing new
in a poll that began after the call, with no consumer doing work in between (so chains of
consumers settle too); 504 if that takes longer than the timeout. Stream records being retried
count as work; SQS messages waiting out a visibility timeout do not.

CLI against a running stack: `python -m local fire <Function> <Event>`, `python -m local drain`,
`python -m local token --workspace acme --role admin|agent` (a dashboard session token).
Tests use `local.template.load_template` and `local.resources.create_resources` directly.
"""
