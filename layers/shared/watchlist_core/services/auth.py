"""Accounts, sign-in sessions and the checks every authenticated request goes through."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ulid import ULID

from watchlist_core.audit.events import new_event, role_changed, session_target, user_target
from watchlist_core.audit.message import AuditAction
from watchlist_core.domain import Credentials, Registration, Role, TokenPair, User, normalize_email, utc_now
from watchlist_core.errors import (
    AuthenticationError,
    DependencyUnavailableError,
    PermissionDeniedError,
    RateLimitedError,
)
from watchlist_core.security.passwords import PasswordHasher
from watchlist_core.security.tokens import AccessClaims, IssuedToken, RefreshClaims, TokenSigner, new_token_id
from watchlist_core.services.audit_delivery import AuditTrail
from watchlist_core.services.login_throttle import LoginThrottle
from watchlist_core.services.ports import EndedSessions
from watchlist_core.state.login_throttle import LoginAttempt
from watchlist_core.storage.sessions import Rotation, Session, SessionStore
from watchlist_core.storage.users import UserStore

INVALID_CREDENTIALS = "The e-mail address or password is wrong."
SESSION_MARGIN = timedelta(minutes=1)  # a session record outlives its refresh token a little (DynamoDB's TTL)


class AuthService:
    def __init__(
        self,
        users: UserStore,
        sessions: SessionStore,
        passwords: PasswordHasher,
        tokens: TokenSigner,
        ended_sessions: EndedSessions,
        login_throttle: LoginThrottle,
        audit: AuditTrail,
        refresh_reuse_grace: timedelta,
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._passwords = passwords
        self._tokens = tokens
        self._ended_sessions = ended_sessions
        self._login_throttle = login_throttle
        self._audit = audit
        self._refresh_reuse_grace = refresh_reuse_grace

    def register(self, registration: Registration, role: Role = Role.USER) -> User:
        email = normalize_email(registration.email)
        user = User(
            id=str(ULID()),
            email=email,
            display_name=registration.display_name or email.split("@", 1)[0],
            role=role,
            created_at=utc_now(),
        )
        event = new_event(AuditAction.USER_REGISTERED, actor_id=user.id, target=user_target(user.id))
        created = self._users.create(user, self._passwords.hash(registration.password), event)
        self._audit.publish_committed(event)
        return created

    def registration_request(self, registration: Registration) -> tuple[str, dict[str, str | None]]:
        """Who a registration's Idempotency-Key belongs to (the address being registered: no key returns or blocks
        another registrant's answer) and what makes two registrations the same: the password too, so a stranger
        who has someone's key and address but not their password gets no answer of theirs; as a keyed digest, so
        the stored fingerprint is no guessing target."""
        email = normalize_email(registration.email)
        return f"registration:{email}", {
            "email": email,
            "display_name": registration.display_name,
            "password": self._tokens.keyed_digest("registration password", registration.password),
        }

    def login(self, credentials: Credentials, source_ip: str) -> TokenPair:
        """Tokens, and a new device token, for the right password. Guessing is throttled (`LoginThrottle`): a
        refused client gets no answer about the password at all; one with a device token of the account is never
        held back by others' failures."""
        email = normalize_email(credentials.email)
        account = self._tokens.keyed_digest("login account", email)[:32]
        attempt = LoginAttempt(account, source_ip, self._tokens.device_of(credentials.device_token, account))
        check = self._login_throttle.check(attempt)
        if check.refusal is not None:
            self._audit.publish(new_event(AuditAction.LOGIN_LOCKED, actor_id=None))
            raise RateLimitedError("Too many failed logins for this account; try again later.", limit=check.refusal)
        stored = self._users.find_credentials(email)
        valid, new_hash = self._passwords.verify(credentials.password, stored.password_hash if stored else None)
        if stored is None or not valid:
            self._login_throttle.failed(attempt, check)
            # An unknown address is not recorded: it may be a password typed into the wrong field.
            target = user_target(stored.user.id) if stored else None
            self._audit.publish(new_event(AuditAction.LOGIN_FAILED, actor_id=None, target=target))
            raise AuthenticationError(INVALID_CREDENTIALS)
        self._login_throttle.succeeded(attempt)
        if new_hash:
            self._users.replace_password_hash(stored.user.id, new_hash)
        pair = self._start_session(stored.user)
        return replace(pair, device_token=self._tokens.issue_device(account).token)

    def refresh_claims(self, refresh_token: str) -> RefreshClaims:
        """The claims of a refresh token this API signed and that has not expired (no I/O)."""
        return self._tokens.verify_refresh(refresh_token)

    def refresh(self, claims: RefreshClaims) -> TokenPair:
        """A new pair for the session's current refresh token. The token it replaced, presented again within the
        grace period (a retry after a lost response, two tabs at once), gets that same pair back; any other
        reuse means the family leaked, and ends the session for everyone holding it, its access tokens too."""
        session = self._live_session(claims)
        user = self._users.get(claims.user_id)
        if user is None:
            raise AuthenticationError("The refresh token is no longer valid.")
        if session.current_jti == claims.jti:
            refresh = self._tokens.issue_refresh(user.id, session.id)
            rotation = Rotation(refresh.jti, new_token_id(), refresh.issued_at, refresh.expires_at + SESSION_MARGIN)
            if self._sessions.rotate(session.id, claims.jti, rotation):
                self._audit.publish(
                    new_event(AuditAction.REFRESHED, actor_id=user.id, target=session_target(user.id, session.id))
                )
                return self._pair(user, session.id, refresh, rotation.access_jti)
            session = self._live_session(claims)  # a concurrent refresh of the same token rotated it first
        if (
            session.previous_jti == claims.jti
            and session.rotated_at is not None
            and session.access_jti is not None
            and utc_now() - session.rotated_at < self._refresh_reuse_grace
        ):
            refresh = self._tokens.issue_refresh(user.id, session.id, session.current_jti, session.rotated_at)
            return self._pair(user, session.id, refresh, session.access_jti)
        self._end(user.id, session.id)
        self._audit.publish(
            new_event(AuditAction.REFRESH_REUSE_DETECTED, actor_id=user.id, target=session_target(user.id, session.id))
        )
        raise AuthenticationError("The refresh token was already used; the session is revoked.")

    def _live_session(self, claims: RefreshClaims) -> Session:
        session = self._sessions.get(claims.session_id)
        if session is None or session.user_id != claims.user_id or session.revoked:
            raise AuthenticationError("The refresh token is no longer valid.")
        return session

    def logout(self, access: AccessClaims, refresh_token: str | None) -> None:
        """Ends the access token's session, and the refresh token's if that is another of the caller's: every
        token of them, the other access tokens of the session (another device's, an attacker's) too."""
        sessions = [access.session_id]
        if refresh_token:
            try:
                claims = self._tokens.verify_refresh(refresh_token)
            except AuthenticationError:
                claims = None  # nothing valid to end; logging out stays idempotent
            if claims and claims.user_id == access.user_id and claims.session_id != access.session_id:
                sessions.append(claims.session_id)
        told_redis = [self._end(access.user_id, session_id) for session_id in sessions]  # each, whatever the first
        if not all(told_redis):
            raise DependencyUnavailableError("The session could not be ended everywhere right now; retry the logout.")
        target = session_target(access.user_id, sessions[-1])
        self._audit.publish(new_event(AuditAction.LOGOUT, actor_id=access.user_id, target=target))

    def _end(self, user_id: str, session_id: str) -> bool:
        """DynamoDB first (what outlives Redis losing its data, see AdmissionService), then Redis, where every
        request checks it; False when Redis could not be told."""
        self._sessions.revoke(session_id)
        return self._ended_sessions.end(user_id, session_id)

    def authenticate(self, access_token: str) -> AccessClaims:
        """Signature and claims only; revocation is checked on admission, in the same Redis round trip."""
        return self._tokens.verify_access(access_token)

    def current_user(self, claims: AccessClaims) -> User:
        user = self._users.get(claims.user_id)
        if user is None:
            raise AuthenticationError("The account no longer exists.")
        return user

    def require_admin(self, claims: AccessClaims) -> User:
        """The stored role decides, not the token's claim: a demotion takes effect at once."""
        user = self.current_user(claims)
        if user.role is not Role.ADMIN:
            raise PermissionDeniedError("This needs the admin role.")
        return user

    def ensure_admin(self, email: str, password: str) -> tuple[User, bool]:
        """Create the first admin, or promote an existing account (its password left alone)."""
        stored = self._users.find_credentials(email)
        if stored is None:
            registration = Registration(email=email, password=password, display_name="Administrator")
            return self.register(registration, role=Role.ADMIN), True
        if stored.user.role is Role.ADMIN:
            return stored.user, False
        event = role_changed(None, stored.user, Role.ADMIN)
        promoted = self._users.change_role(stored.user, Role.ADMIN, event)
        self._audit.publish_committed(event)
        return promoted, False

    def _start_session(self, user: User) -> TokenPair:
        session_id = new_token_id()
        refresh = self._tokens.issue_refresh(user.id, session_id)
        self._sessions.start(session_id, user.id, refresh.jti, refresh.expires_at + SESSION_MARGIN)
        self._audit.publish(
            new_event(AuditAction.LOGIN_SUCCEEDED, actor_id=user.id, target=session_target(user.id, session_id))
        )
        return self._pair(user, session_id, refresh, new_token_id())

    def _pair(self, user: User, session_id: str, refresh: IssuedToken, access_jti: str) -> TokenPair:
        """The access token is issued with the refresh token's time, so the pair can be issued again alike."""
        access = self._tokens.issue_access(user.id, user.role, session_id, access_jti, refresh.issued_at)
        expires_in = int((access.expires_at - utc_now()).total_seconds())
        return TokenPair(access_token=access.token, refresh_token=refresh.token, expires_in=expires_in)
