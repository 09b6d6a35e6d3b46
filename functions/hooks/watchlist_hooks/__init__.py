"""CodeDeploy's lifecycle hooks for the API function's gradual deploys, and the smoke flow they and `make smoke`
share.

- smoke: a throwaway user's whole life over HTTP against a base URL (register, sign in, an item added, listed,
  changed, deleted, the account deleted), cleaning up after itself;
- pre_traffic: the new version invoked directly with API Gateway events that need no user, before any traffic;
- post_traffic: the smoke flow against the stage once traffic moved, then old versions pruned;
- lifecycle: what both share (CodeDeploy's report, the deadline, the logger).

Only the dependencies layer is needed (httpx, aws-lambda-powertools, boto3); nothing of watchlist_core.
"""
