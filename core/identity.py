"""Users, groups, companies, logins and personal API tokens: the business rules, without Flask.

The CLI, the web pages and the REST API all call these functions, so the rules (password
strength, lockout, what a disable revokes) hold whichever door is used. Functions take a
session, flush when they need ids, and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import (
    ApiToken,
    Company,
    Group,
    Permission,
    RevokedToken,
    User,
    group_permission,
    user_company,
    user_group,
)
from core.passwords import check_strength, hash_password, verify_password

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
API_TOKEN_PREFIX = "mos_"
ADMIN_GROUP = "core.admin"


class IdentityError(ValueError):
    """A user, group, company or token operation was refused; the message says why."""


# --------------------------------------------------------------------------- users


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise IdentityError(f"no user with e-mail {normalise_email(email)!r}")
    return user


def create_user(
    session: Session,
    email: str,
    password: str | None,
    *,
    name: str = "",
    companies: list[Company] | None = None,
    company: Company | None = None,
    groups: list[Group] | None = None,
) -> User:
    """Create an active user; ``password=None`` makes an account that cannot log in yet."""
    email = normalise_email(email)
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise IdentityError(f"{email!r} is not a valid e-mail address")
    if find_user(session, email) is not None:
        raise IdentityError(f"a user with e-mail {email!r} already exists")
    if len(name) > 200:
        raise IdentityError("the name is longer than 200 characters")
    if password is not None:
        check_strength(password, email=email)
    companies = list(companies or [])
    if company is not None and company not in companies:
        companies.append(company)
    user = User(
        email=email,
        name=name.strip() or email.split("@")[0],
        password_hash=hash_password(password) if password is not None else None,
        companies=companies,
        company=company or (companies[0] if companies else None),
        groups=list(groups or []),
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def user_choices(session: Session) -> list[tuple[int, str]]:
    """``(id, name)`` of the active users, by name: the options of an owner select or filter."""
    rows = session.execute(
        select(User.id, User.name, User.email).where(User.active.is_(True)).order_by(User.name)
    )
    return [(row.id, row.name or row.email) for row in rows]


def set_password(session: Session, user: User, password: str) -> None:
    """Change the password and revoke everything issued before: tokens, API tokens, locks."""
    check_strength(password, email=user.email)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    revoke_everything(session, user)


def disable_user(session: Session, user: User) -> None:
    """A disabled user cannot log in and every token they hold stops working at once."""
    user.active = False
    revoke_everything(session, user)


def enable_user(session: Session, user: User) -> None:
    user.active = True
    user.failed_logins = 0
    user.locked_until = None


def revoke_everything(session: Session, user: User) -> None:
    now = utcnow()
    user.tokens_valid_after = now
    session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    session.flush()


# --------------------------------------------------------------------------- groups


def find_group(session: Session, ref: str) -> Group:
    """A group by ``<addon>.<key>`` (``core.admin`` is the Administrator group)."""
    addon, _, key = ref.strip().partition(".")
    group = session.scalar(select(Group).where(Group.addon == addon, Group.key == key))
    if group is None:
        known = ", ".join(
            f"{g.addon}.{g.key}"
            for g in session.scalars(select(Group).order_by(Group.addon, Group.key))
        )
        raise IdentityError(f"no group {ref!r}; known groups: {known or 'none'}")
    return group


def grant_group(session: Session, user: User, group: Group) -> None:
    if group not in user.groups:
        user.groups.append(group)
    session.flush()


def revoke_group(session: Session, user: User, group: Group) -> None:
    if group in user.groups:
        user.groups.remove(group)
    session.flush()


def load_permissions(session: Session, user_id: int) -> tuple[frozenset[str], bool]:
    """The user's permission names and whether they are an administrator, in one query."""
    rows = session.execute(
        select(Group.is_admin, Permission.name)
        .select_from(user_group)
        .join(Group, Group.id == user_group.c.group_id)
        .outerjoin(group_permission, group_permission.c.group_id == Group.id)
        .outerjoin(Permission, Permission.id == group_permission.c.permission_id)
        .where(user_group.c.user_id == user_id)
    ).all()
    is_admin = any(row[0] for row in rows)
    return frozenset(row[1] for row in rows if row[1] is not None), is_admin


def all_permissions(session: Session) -> list[str]:
    return list(session.scalars(select(Permission.name).order_by(Permission.name)))


# --------------------------------------------------------------------------- companies


def create_company(session: Session, name: str, *, currency: str = "EUR") -> Company:
    name = (name or "").strip()
    currency = (currency or "").strip().upper()
    if not name or len(name) > 200:
        raise IdentityError("a company needs a name of 1 to 200 characters")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise IdentityError(f"{currency!r} is not a three-letter ISO 4217 currency code")
    if session.scalar(select(Company.id).where(func.lower(Company.name) == name.lower())):
        raise IdentityError(f"a company named {name!r} already exists")
    company = Company(name=name, currency=currency)
    session.add(company)
    session.flush()
    return company


def list_companies(session: Session) -> list[Company]:
    return list(session.scalars(select(Company).order_by(Company.id)))


def find_company(session: Session, ref: str | int) -> Company:
    """A company by id or by (case-insensitive) name."""
    company = None
    if isinstance(ref, int) or str(ref).isdigit():
        company = session.get(Company, int(ref))
    if company is None:
        company = session.scalar(
            select(Company).where(func.lower(Company.name) == str(ref).strip().lower())
        )
    if company is None:
        raise IdentityError(f"no company {ref!r}")
    return company


def grant_company(
    session: Session, user: User, company: Company, *, make_current: bool = False
) -> None:
    if company not in user.companies:
        user.companies.append(company)
    if make_current or user.company_id is None:
        user.company = company
    session.flush()


def allowed_companies(session: Session, user_id: int) -> list[tuple[int, str]]:
    """``(id, name)`` of the active companies the user may work in, by id."""
    return [
        (row.id, row.name)
        for row in session.execute(
            select(Company.id, Company.name)
            .join(user_company, user_company.c.company_id == Company.id)
            .where(user_company.c.user_id == user_id, Company.active.is_(True))
            .order_by(Company.id)
        )
    ]


def switch_company(session: Session, user: User, company_id: int) -> None:
    """Make ``company_id`` the user's current company (it must be one they are allowed)."""
    if company_id not in {cid for cid, _ in allowed_companies(session, user.id)}:
        raise IdentityError("that company is not among your companies")
    user.company_id = company_id
    session.flush()


# --------------------------------------------------------------------------- logins


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lock_minutes: int = 15


def authenticate(
    session: Session, email: str, password: str, policy: LoginPolicy, *, now: datetime | None = None
) -> User | None:
    """The user if ``email``/``password`` are right and the account may log in, else ``None``.

    Callers must answer every ``None`` the same way: unknown e-mail, wrong password, disabled
    and locked accounts must be indistinguishable from outside. The password hash is checked
    in every case (a dummy hash for unknown users) so that timing does not tell either.
    A wrong password counts a failure (atomically, so parallel guesses all count); reaching
    ``policy.max_failures`` locks the account for ``policy.lock_minutes``.
    """
    now = now or utcnow()
    user = find_user(session, email) if email and len(email) <= 254 else None
    password_ok = verify_password(user.password_hash if user else None, password or "")
    if user is None:
        return None
    if user.locked_until is not None and user.locked_until > now:
        return None
    if not password_ok:
        failures = session.execute(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        ).scalar_one()
        if failures >= policy.max_failures:
            session.execute(
                update(User)
                .where(User.id == user.id)
                .values(failed_logins=0, locked_until=now + timedelta(minutes=policy.lock_minutes))
            )
        session.expire(user, ["failed_logins", "locked_until"])
        return None
    if not user.active:
        return None
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None
    session.flush()
    return user


# --------------------------------------------------------------------------- JWT revocation


def family_key(family: str) -> str:
    return f"fam:{family}"


def revoke_jti(session: Session, jti: str, user_id: int | None, expires_at: datetime) -> bool:
    """Record ``jti`` as revoked; ``False`` if it already was (someone used it before us).

    The primary key makes this the one atomic test-and-set that rotation needs: of two
    requests replaying the same refresh token, only one can insert it.
    """
    try:
        with session.begin_nested():
            session.execute(
                insert(RevokedToken).values(jti=jti, user_id=user_id, expires_at=expires_at)
            )
    except IntegrityError:
        return False
    return True


def any_revoked(session: Session, keys: list[str]) -> bool:
    return (
        session.scalar(select(RevokedToken.jti).where(RevokedToken.jti.in_(keys)).limit(1))
        is not None
    )


def purge_expired_revocations(session: Session, *, now: datetime | None = None) -> int:
    """Forget revocations of tokens that have expired anyway (they are refused regardless)."""
    result = session.execute(
        delete(RevokedToken).where(RevokedToken.expires_at < (now or utcnow()))
    )
    return result.rowcount or 0


# --------------------------------------------------------------------------- API tokens


def _hash_token(token: str) -> str:
    # Personal tokens carry 256 random bits: a fast hash is enough (no dictionary to attack),
    # and it lets every request find its token with one indexed lookup.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new personal API token; the plain text is returned here once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise IdentityError("a token needs a name of 1 to 100 characters")
    if not user.active:
        raise IdentityError("a disabled user cannot get API tokens")
    plain = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, prefix=plain[:12], token_hash=_hash_token(plain))
    session.add(token)
    session.flush()
    return token, plain


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_api_token(session: Session, user: User, token_id: int) -> ApiToken:
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if token is None:
        raise IdentityError(f"no API token {token_id} for {user.email}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.flush()
    return token


def user_for_api_token(session: Session, plain: str) -> tuple[User, ApiToken] | None:
    """The active user holding the unrevoked token ``plain``, or ``None``."""
    if not plain.startswith(API_TOKEN_PREFIX) or len(plain) > 200:
        return None
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _hash_token(plain), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    token, user = row
    if not user.active:
        return None
    return user, token


def describe_token(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat() if token.created_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked": token.revoked_at is not None,
    }
