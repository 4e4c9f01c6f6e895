"""`python -m bot backup create|list|verify|restore`: the database's backups."""

from __future__ import annotations

from pathlib import Path

import click

from bot import backup
from bot.cli import Ctx, pass_ctx
from schedules import lease


@click.group("backup")
def group() -> None:
    """数据库备份（服务运行时也可安全执行）。"""


@group.command("create")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="备份写到哪个文件夹（默认为配置 [backup] 的 dir）。")
@click.option("--keep", type=click.IntRange(min=1), help="保留几份（默认为配置 [backup] 的 keep）。")
@pass_ctx
def create(ctx: Ctx, directory: Path | None, keep: int | None) -> None:
    """复制正在使用的数据库，检查副本，并删除超出 --keep 份数的最旧备份。"""
    config = ctx.config
    info = _or_fail(lambda: backup.create(config.store_path, directory or config.backup_dir,
                                          ctx.services.clock.now(),
                                          keep or config.get("backup.keep")))
    click.echo(f"已备份：{info.path}（{_size(info.bytes)}，{_counts(info.counts)}，已通过完整性检查）")


@group.command("list")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="备份所在的文件夹（默认为配置 [backup] 的 dir）。")
@pass_ctx
def list_backups(ctx: Ctx, directory: Path | None) -> None:
    """列出备份文件夹中的备份，最旧的在前。"""
    directory = directory or ctx.config.backup_dir
    found = backup.listing(directory)
    if not found:
        click.echo(f"{directory} 中还没有备份。")
    for path in found:
        click.echo(f"{path}  {_size(path.stat().st_size)}")


@group.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def verify(file: Path) -> None:
    """检查一个备份文件：完整性、结构版本、各表行数。"""
    info = _or_fail(lambda: backup.verify(file))
    click.echo(f"完好：{info.path}（结构版本 {info.schema_version}，{_counts(info.counts)}）")


@group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再询问确认。")
@pass_ctx
def restore(ctx: Ctx, file: Path, yes: bool) -> None:
    """用备份替换数据库（请先停止服务）。"""
    config, services = ctx.config, ctx.services
    holder = lease.current_holder(services.store, services.clock.timestamp())
    if holder is not None:
        raise click.ClickException(f"服务仍在运行（调度器 {holder}）：请先停止服务再恢复")
    info = _or_fail(lambda: backup.verify(file))
    click.echo(f"将用 {file}（{_counts(info.counts)}）替换 {config.store_path}。")
    if not yes and not click.confirm("确定恢复吗？", default=False):
        raise click.ClickException("已取消，未做任何修改")
    services.store.close()  # our own connections must not hold the file during the copy
    safety = _or_fail(lambda: backup.restore(file, config.store_path, services.clock.now()))
    click.echo(f"已恢复。原数据库另存为 {safety}；启动服务时会自动执行所需的结构升级。")


def _or_fail(action):  # noqa: ANN001, ANN202  (a thunk returning what the command prints)
    try:
        return action()
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 1024 * 1024 else f"{count / 1024:.0f} KB"


def _counts(counts: dict[str, int]) -> str:
    names = {"members": "成员", "checkins": "打卡", "readings": "条文", "schedules": "定时",
             "deliveries": "投递"}
    return "、".join(f"{names[table]} {count}" for table, count in counts.items())
