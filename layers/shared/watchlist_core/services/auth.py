"""Accounts, sign-in sessions and the checks every authenticated request goes through."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ulid import ULID

from watchlist_core.audit.events import new_event, role_changed, session_target, user_target
from watchlist_core.audit.message import AuditAction, FieldChange
from watchlist_core.domain import (
    Credentials,
    PasswordChange,
    ProfileChanges,
    Registration,
    Role,
    SessionInfo,
    SessionList,
    TokenPair,
    User,
    normalize_email,
    utc_now,
)
from watchlist_core.errors import (
    AuthenticationError,
    DependencyUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    WrongPasswordError,
)
from watchlist_core.mail.notices import Notice
from watchlist_core.observability import logger
from watchlist_core.security.passwords import PasswordHasher
from watchlist_core.security.tokens import AccessClaims, IssuedToken, RefreshClaims, TokenSigner, new_token_id
from watchlist_core.services.account_mail import MailRequests
from watchlist_core.services.audit_delivery import AuditTrail
from watchlist_core.services.login_throttle import LoginThrottle
from watchlist_core.services.ports import DataChangeListener, EndedSessions
from watchlist_core.state.login_throttle import LoginAttempt
from watchlist_core.storage.sessions import Rotation, Session, SessionOrigin, SessionStore
from watchlist_core.storage.users import StoredCredentials, UserStore

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
        changes: DataChangeListener,
        mail: MailRequests,
        refresh_reuse_grace: timedelta,
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._passwords = passwords
        self._tokens = tokens
        self._ended_sessions = ended_sessions
        self._login_throttle = login_throttle
        self._audit = audit
        self._changes = changes
        self._mail = mail
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
        self._mail.verification(created.id)
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

    def login(self, credentials: Credentials, source_ip: str, user_agent: str | None = None) -> TokenPair:
        """Tokens, and a new device token, for the right password. Guessing is throttled (`LoginThrottle`): a
        refused client gets no answer about the password at all; one with a device token of the account is never
        held back by others' failures."""
        email = normalize_email(credentials.email)
        account = self._account(email)
        attempt = LoginAttempt(account, source_ip, self._tokens.device_of(credentials.device_token, account))
        stored = self._verified(email, credentials.password, attempt)
        if stored is None:
            raise AuthenticationError(INVALID_CREDENTIALS)
        # Microseconds kept: the owner's list orders sessions begun within one second too.
        pair = self._start_session(stored.user, SessionOrigin(datetime.now(UTC), user_agent, source_ip))
        return replace(pair, device_token=self._tokens.issue_device(account).token)

    def _account(self, email: str) -> str:
        """The login throttle's and device tokens' name for an e-mail address: a keyed digest, never the address."""
        return self._tokens.keyed_digest("login account", email)[:32]

    def _verified(self, email: str, password: str, attempt: LoginAttempt) -> StoredCredentials | None:
        """The account when `password` is its password; None (a failed sign-in, counted and audited) when it is not,
        or there is no such account. Guessing is throttled (`LoginThrottle`): a refused client learns nothing of
        the password (RateLimitedError)."""
        check = self._login_throttle.check(attempt)
        if check.refusal is not None:
            self._audit.publish(new_event(AuditAction.LOGIN_LOCKED, actor_id=None))
            raise RateLimitedError("Too many failed logins for this account; try again later.", limit=check.refusal)
        stored = self._users.find_credentials(email)
        valid, new_hash = self._passwords.verify(password, stored.password_hash if stored else None)
        if stored is None or not valid or not stored.user.active:  # deactivated: as a wrong password, same work
            self._login_throttle.failed(attempt, check)
            # An unknown address is not recorded: it may be a password typed into the wrong field.
            target = user_target(stored.user.id) if stored else None
            self._audit.publish(new_event(AuditAction.LOGIN_FAILED, actor_id=None, target=target))
            return None
        self._login_throttle.succeeded(attempt)
        if new_hash:
            self._users.replace_password_hash(stored.user.id, new_hash)
            return replace(stored, password_hash=new_hash)
        return stored

    def change_password(self, claims: AccessClaims, change: PasswordChange, source_ip: str) -> None:
        """The current password confirms it (a wrong one counts as a failed sign-in, throttled alike). Every other
        session of the account ends at once, its access and refresh tokens; the caller's goes on."""
        user = self.current_user(claims)
        stored = self.confirm_password(user, change.current_password, source_ip)
        event = new_event(AuditAction.PASSWORD_CHANGED, actor_id=user.id, target=user_target(user.id))
        new_hash = self._passwords.hash(change.new_password)
        self._users.change_password(user.id, stored.password_hash, new_hash, claims.session_id, event)
        self._audit.publish_committed(event)
        self.end_sessions(user.id, keep=claims.session_id)
        self._mail.notice(Notice.PASSWORD_CHANGED, user.email, user.id)

    def forgive_failed_logins(self, email: str) -> None:
        """For a password reset: strangers' failed guesses no longer hold back the account's owner."""
        self._login_throttle.recovered(self._account(email))

    def confirm_password(self, user: User, password: str, source_ip: str) -> StoredCredentials:
        """The account's stored credentials when `password`, asked for to confirm a change, is its password; a wrong
        one is WrongPasswordError, and counts as a failed sign-in (throttled alike)."""
        attempt = LoginAttempt(self._account(user.email), source_ip, None)
        stored = self._verified(user.email, password, attempt)
        if stored is None:
            raise WrongPasswordError("The current password is wrong.")
        return stored

    def end_sessions(self, user_id: str, keep: str | None = None) -> None:
        """Every live session of the user but `keep`. In DynamoDB first (their refresh tokens stop at once), then in
        Redis (their access tokens); a session Redis could not be told of keeps its access tokens, at most their
        15 minutes, once Redis answers again (logged). A session begun a moment ago may not be in the index yet: its
        refresh is refused all the same (the account's `sessions_ended_at`), its access tokens lapse in 15 minutes."""
        told = [self._end(user_id, session.id) for session in self._sessions.live_of(user_id) if session.id != keep]
        if not all(told):
            logger.warning("sessions ended in DynamoDB only", extra={"user_id": user_id, "untold": told.count(False)})

    def sessions(self, claims: AccessClaims) -> SessionList:
        """The caller's live sessions, newest first; theirs among them (read by its id: the index may lag)."""
        live = {session.id: session for session in self._sessions.live_of(claims.user_id)}
        if claims.session_id not in live:
            own = self._sessions.get(claims.session_id)
            if own is not None and not own.revoked:
                live[own.id] = own
        infos = [
            SessionInfo(
                id=session.id,
                created_at=session.origin.created_at,
                last_used_at=session.last_used_at,
                user_agent=session.origin.user_agent,
                source_ip=session.origin.source_ip,
                current=session.id == claims.session_id,
            )
            for session in live.values()
        ]
        newest_first = sorted(
            infos, key=lambda info: (info.created_at is not None, info.created_at, info.id), reverse=True
        )
        return SessionList(newest_first)

    def end_session(self, claims: AccessClaims, session_id: str) -> None:
        """Ends one of the caller's sessions at once, as logout does; another's (or an ended one) is not found."""
        session = self._sessions.get(session_id)
        if session is None or session.user_id != claims.user_id or session.revoked:
            raise NotFoundError("No such session of yours.")
        if not self._end(claims.user_id, session_id):
            raise DependencyUnavailableError("The session could not be ended everywhere right now; retry.")
        target = session_target(claims.user_id, session_id)
        self._audit.publish(new_event(AuditAction.SESSION_ENDED, actor_id=claims.user_id, target=target))

    def update_profile(self, claims: AccessClaims, changes: ProfileChanges, source_ip: str) -> User:
        """The display name; the e-mail address with the current password (a wrong one counts as a failed sign-in),
        unverified until a link mailed to the new address is used, and a notice to the old one."""
        user = self.current_user(claims)
        if changes.email is not None and changes.email != user.email:
            user = self._change_email(user, changes.email, changes.current_password or "", source_ip)
        if changes.display_name is None or changes.display_name == user.display_name:
            return user
        event = new_event(
            AuditAction.PROFILE_CHANGED,
            actor_id=user.id,
            target=user_target(user.id),
            changes={"display_name": FieldChange(old=user.display_name, new=changes.display_name)},
        )
        changed = self._users.change_display_name(user, changes.display_name, event)
        self._changes.user_data_changed(user.id)  # the cached /me shows the new name at once
        self._audit.publish_committed(event)
        return changed

    def _change_email(self, user: User, email: str, current_password: str, source_ip: str) -> User:
        self.confirm_password(user, current_password, source_ip)
        # The addresses stay out of the event: the trail outlives the account, and an address is personal data.
        event = new_event(AuditAction.EMAIL_CHANGED, actor_id=user.id, target=user_target(user.id))
        changed = self._users.change_email(user, email, event)
        self._changes.user_data_changed(user.id)
        self._audit.publish_committed(event)
        self._mail.notice(Notice.EMAIL_CHANGED, user.email, user.id)
        self._mail.verification(user.id)
        return changed

    def refresh_claims(self, refresh_token: str) -> RefreshClaims:
        """The claims of a refresh token this API signed and that has not expired (no I/O)."""
        return self._tokens.verify_refresh(refresh_token)

    def refresh(self, claims: RefreshClaims) -> TokenPair:
        """A new pair for the session's current refresh token. The token it replaced, presented again within the
        grace period (a retry after a lost response, two tabs at once), gets that same pair back; any other
        reuse means the family leaked, and ends the session for everyone holding it, its access tokens too."""
        session = self._live_session(claims)
        account = self._users.account(claims.user_id)
        if account is None or not account.user.active or account.ended(session.id, session.origin.created_at):
            raise AuthenticationError("The refresh token is no longer valid.")
        user = account.user
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
        if user is None or not user.active:
            raise AuthenticationError("The account no longer exists, or is deactivated.")
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

    def _start_session(self, user: User, origin: SessionOrigin) -> TokenPair:
        session_id = new_token_id()
        refresh = self._tokens.issue_refresh(user.id, session_id)
        self._sessions.start(session_id, user.id, refresh.jti, refresh.expires_at + SESSION_MARGIN, origin)
        self._audit.publish(
            new_event(AuditAction.LOGIN_SUCCEEDED, actor_id=user.id, target=session_target(user.id, session_id))
        )
        return self._pair(user, session_id, refresh, new_token_id())

    def _pair(self, user: User, session_id: str, refresh: IssuedToken, access_jti: str) -> TokenPair:
        """The access token is issued with the refresh token's time, so the pair can be issued again alike."""
        access = self._tokens.issue_access(
            user.id, user.role, session_id, access_jti, refresh.issued_at, email_verified=user.email_verified
        )
        expires_in = int((access.expires_at - utc_now()).total_seconds())
        return TokenPair(access_token=access.token, refresh_token=refresh.token, expires_in=expires_in)
