"""GET /v1/themes: the theme names a job or cut-out accepts (the seller page fills its picker from it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from fusion.themes import list_themes
from service.api.auth import Caller, require_key
from service.api.deps import in_thread
from service.api.schemas import ErrorBody

router = APIRouter(tags=["themes"])


class ThemeOut(BaseModel):
    name: str
    title: str
    description: str


class ThemeList(BaseModel):
    themes: list[ThemeOut]


def _themes() -> dict:
    return {"themes": [{"name": t.name, "title": t.title, "description": t.description} for t in list_themes()]}


@router.get("/v1/themes", response_model=ThemeList, responses={401: {"model": ErrorBody}},
            summary="Built-in themes, by name")
async def themes(caller: Caller = Depends(require_key)) -> dict:
    return await in_thread(_themes)
