"""Dependencies that hand out what the app factory built (settings, auth config)."""

from typing import Annotated

from fastapi import Depends, Request

from blog.auth.security import AuthConfig
from blog.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_auth_config(request: Request) -> AuthConfig:
    auth: AuthConfig = request.app.state.auth
    return auth


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AuthConfigDep = Annotated[AuthConfig, Depends(get_auth_config)]
