import uuid
from typing import Annotated

from fastapi import Depends

from blog.database import SessionDep
from blog.tenants.dependencies import TenantDep
from blog.users import service
from blog.users.models import User


def get_user_in_tenant(user_id: uuid.UUID, _tenant: TenantDep, session: SessionDep) -> User:
    """The user named in the path, in the path's tenant (404 for any other tenant's id)."""
    return service.get_user(session, user_id=user_id)


PathUser = Annotated[User, Depends(get_user_in_tenant)]
