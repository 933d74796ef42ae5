"""A user's TOTP second factor (动态口令). The secret is encrypted at rest like personal information."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db import Base
from pingan.security.crypto import EncryptedText


class UserTotp(Base):
    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(EncryptedText("user_totp.secret"))
    enabled: Mapped[bool] = mapped_column(default=False)
    # The last time step accepted: a code is good once (no replay within its 30 s window).
    last_step: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
