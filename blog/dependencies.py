"""Dependencies that hand out what the app factory built (settings, auth config, mail)."""

from typing import Annotated

from fastapi import Depends, Request

from blog.auth.security import AuthConfig
from blog.background import BackgroundWork
from blog.mail import Mailer
from blog.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_auth_config(request: Request) -> AuthConfig:
    auth: AuthConfig = request.app.state.auth
    return auth


async def get_mailer(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


async def get_background(request: Request) -> BackgroundWork:
    background: BackgroundWork = request.app.state.background
    return background


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AuthConfigDep = Annotated[AuthConfig, Depends(get_auth_config)]
MailerDep = Annotated[Mailer, Depends(get_mailer)]
BackgroundDep = Annotated[BackgroundWork, Depends(get_background)]
