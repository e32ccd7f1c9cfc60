"""`relance serve`: the scheduler daemon that runs the day's work on time, once.

- `config`: the `[schedule]` table of relance.toml;
- `clock`: where the time comes from (the system, or a test's);
- `plan`: when each job is due (pure functions of config, calendar and now);
- `leader`: which of several processes runs the once-a-day jobs;
- `service`: the ticks, the claims in `job_run`, the APScheduler loop;
- `promises`, `summary`: two of the jobs; the run and the dispatch are the engine's and
  the channels', handed in as callables (`core`);
- `status`: what `relance serve --status` prints.
"""
