-- The clickstream app's tables (PostgreSQL). runnel-clickstream runs this
-- file, embedded at build time, when it starts: every statement is
-- idempotent. The PostgreSQL sink keeps its offsets in its own table
-- (runnel_sink_offsets) in the same transactions as these rows.

CREATE SCHEMA IF NOT EXISTS clickstream;

-- Events per type per 1-minute tumbling window.
CREATE TABLE IF NOT EXISTS clickstream.events_per_minute (
  window_start timestamptz NOT NULL,
  event_type   text        NOT NULL,
  events       bigint      NOT NULL,
  PRIMARY KEY (window_start, event_type)
);

-- Revenue (exact: summed in integer cents) and purchases per minute; a row
-- for every minute with any event.
CREATE TABLE IF NOT EXISTS clickstream.revenue_per_minute (
  window_start timestamptz   NOT NULL PRIMARY KEY,
  revenue      numeric(18,2) NOT NULL,
  purchases    bigint        NOT NULL
);

-- Distinct active users per 5-minute tumbling window.
CREATE TABLE IF NOT EXISTS clickstream.active_users_5m (
  window_start timestamptz NOT NULL PRIMARY KEY,
  users        bigint      NOT NULL
);

-- User sessions (30-minute inactivity gap): [session_start, session_end] are
-- the first and last event's times. A session merged into a larger one is
-- deleted.
CREATE TABLE IF NOT EXISTS clickstream.user_sessions (
  user_id       text          NOT NULL,
  session_start timestamptz   NOT NULL,
  session_end   timestamptz   NOT NULL,
  page_views    bigint        NOT NULL,
  events        bigint        NOT NULL,
  revenue       numeric(18,2) NOT NULL,
  PRIMARY KEY (user_id, session_start)
);
