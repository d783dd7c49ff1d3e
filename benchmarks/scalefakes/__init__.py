"""Many-user asyncio fakes of Google and Microsoft Graph for benchmarks/company_scale.py."""
