"""The API server's routers, one concern each: `rest` (Kubernetes' collection, object and
subresource paths), `skiff` (Skiff's own skiff.io endpoints), `health` (version, health,
readiness, metrics and the catch-all 404).  Each `router(ctx)` builds its APIRouter."""
