"""When each integrity reminder (廉洁提醒) goes out: the holiday calendar applied to the
reminders in the store. The scheduler asks `due_on(day)`; admins see `plan_year(year)`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.holidays import Calendar, PlannedDate
from bot.services import Services


@dataclass(frozen=True)
class StoredReminder:
    id: str
    occasion: str
    lead_workdays: int
    title: str
    body: str

    def text_for(self, branch: str) -> str:
        # str.format, so a literal brace written {{ in the content file comes out single.
        return self.body.format(branch=branch)


@dataclass(frozen=True)
class ReminderPlan:
    reminder: StoredReminder
    date: PlannedDate


def holiday_calendar(services: Services) -> Calendar:
    """The calendar with the admin's overrides (content/holidays.toml), if that file exists."""
    path = services.config.content_path / "holidays.toml"
    return Calendar.from_file(path) if path.exists() else Calendar()


def default_reminders(services: Services) -> list[StoredReminder]:
    rows = services.store.db.execute(
        "SELECT id, occasion, lead_workdays, title, body FROM reminders WHERE is_default = 1"
        " ORDER BY id")
    return [StoredReminder(*row) for row in rows]


def plan_year(services: Services, year: int,
              calendar: Calendar | None = None) -> list[ReminderPlan]:
    """Every default reminder sent during `year`, by send date. A holiday early next year
    (元旦) is reminded late this year, so both years' holidays are planned and filtered."""
    calendar = calendar or holiday_calendar(services)
    plans = []
    for reminder in default_reminders(services):
        for holiday_year in (year, year + 1):
            planned = calendar.plan(reminder.occasion, holiday_year, reminder.lead_workdays)
            if planned.day.year == year:
                plans.append(ReminderPlan(reminder, planned))
    return sorted(plans, key=lambda p: (p.date.day, p.reminder.occasion))


def due_on(services: Services, day: date, calendar: Calendar | None = None) -> list[ReminderPlan]:
    """The reminders whose send date is `day`."""
    return [plan for plan in plan_year(services, day.year, calendar) if plan.date.day == day]
