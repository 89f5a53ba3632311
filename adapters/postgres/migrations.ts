/**
 * Schema migrations, in order. Kept as TypeScript strings (not .sql files) so the compiled
 * dist/ needs no copied assets. Never edit a migration that has shipped: add a new one.
 * docs/storage.md describes the resulting schema.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'reference',
    sql: `
CREATE TABLE companies (
  id     text PRIMARY KEY,
  name   text NOT NULL,
  active boolean NOT NULL DEFAULT true
);

CREATE TABLE vehicles (
  id          text PRIMARY KEY,
  company_id  text NOT NULL REFERENCES companies (id),
  name        text,
  plate       text,
  speed_limit double precision CHECK (speed_limit IS NULL OR speed_limit > 0)
);
CREATE INDEX vehicles_company_idx ON vehicles (company_id);

CREATE TABLE device_bindings (
  device_id  text PRIMARY KEY,
  vehicle_id text NOT NULL REFERENCES vehicles (id) ON DELETE CASCADE
);
CREATE INDEX device_bindings_vehicle_idx ON device_bindings (vehicle_id);

CREATE TABLE drivers (
  id         text PRIMARY KEY,
  company_id text NOT NULL REFERENCES companies (id),
  name       text NOT NULL
);
CREATE INDEX drivers_company_idx ON drivers (company_id);

CREATE TABLE geofences (
  id         text PRIMARY KEY,
  company_id text NOT NULL REFERENCES companies (id),
  name       text NOT NULL,
  polygon    jsonb NOT NULL
);
CREATE INDEX geofences_company_idx ON geofences (company_id);
`,
  },
  {
    version: 2,
    name: 'history',
    sql: `
-- One partition per UTC day, named positions_YYYYMMDD, created on demand by the engine
-- (ensurePartitions) and dropped by retention (dropExpiredPartitions). There is no default
-- partition: a row for a missing day fails loudly instead of piling up somewhere unseen.
CREATE TABLE positions (
  vehicle_id text NOT NULL,
  device_id  text NOT NULL,
  ts         timestamptz NOT NULL,
  lat        double precision NOT NULL,
  lon        double precision NOT NULL,
  speed      real,
  course     real,
  alt        real,
  ignition   boolean,
  fuel       real,
  odometer   double precision,
  attrs      jsonb,
  -- A replayed position is not written twice (ON CONFLICT DO NOTHING). The key includes the
  -- partition key ts, as unique indexes on partitioned tables must.
  PRIMARY KEY (vehicle_id, ts)
) PARTITION BY RANGE (ts);

-- Event ids are deterministic (vehicleId:type:ts), so a replay never duplicates an event.
CREATE TABLE events (
  id         text PRIMARY KEY,
  vehicle_id text NOT NULL,
  company_id text,
  type       text NOT NULL,
  ts         timestamptz NOT NULL,
  lat        double precision NOT NULL,
  lon        double precision NOT NULL,
  data       jsonb
);
CREATE INDEX events_vehicle_ts_idx ON events (vehicle_id, ts);
CREATE INDEX events_company_ts_idx ON events (company_id, ts);
`,
  },
  {
    version: 3,
    name: 'snapshots',
    sql: `
-- The fencing epoch of each partition: incremented by every owner that acquires it.
CREATE TABLE partition_epochs (
  partition int PRIMARY KEY,
  epoch     bigint NOT NULL
);

-- Durable actor snapshots: MessagePack of VehicleSnapshot (the same bytes as the Redis tier).
CREATE TABLE vehicle_snapshots (
  vehicle_id text PRIMARY KEY,
  partition  int NOT NULL,
  snapshot   bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vehicle_snapshots_partition_idx ON vehicle_snapshots (partition, vehicle_id);
`,
  },
  {
    version: 4,
    name: 'reference-notify',
    sql: `
-- Every change of the reference tables is announced on channel fleetline_reference as
-- '<kind>:<id>' (company, vehicle, device); a listening node re-reads that row. TG_ARGV: the
-- kind and the key column. An update that changes the key announces the old and the new key.
CREATE FUNCTION fleetline_reference_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_key text;
  new_key text;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_key := to_jsonb(OLD) ->> TG_ARGV[1]; END IF;
  IF TG_OP <> 'DELETE' THEN new_key := to_jsonb(NEW) ->> TG_ARGV[1]; END IF;
  IF old_key IS NOT NULL THEN PERFORM pg_notify('fleetline_reference', TG_ARGV[0] || ':' || old_key); END IF;
  IF new_key IS NOT NULL AND new_key IS DISTINCT FROM old_key THEN
    PERFORM pg_notify('fleetline_reference', TG_ARGV[0] || ':' || new_key);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER companies_notify AFTER INSERT OR UPDATE OR DELETE ON companies
  FOR EACH ROW EXECUTE FUNCTION fleetline_reference_notify('company', 'id');
CREATE TRIGGER vehicles_notify AFTER INSERT OR UPDATE OR DELETE ON vehicles
  FOR EACH ROW EXECUTE FUNCTION fleetline_reference_notify('vehicle', 'id');
CREATE TRIGGER device_bindings_notify AFTER INSERT OR UPDATE OR DELETE ON device_bindings
  FOR EACH ROW EXECUTE FUNCTION fleetline_reference_notify('device', 'device_id');
`,
  },
  {
    version: 5,
    name: 'segments',
    sql: `
-- Trips and stops (TripSegment), upserted by their deterministic id at checkpoints: reports over
-- long ranges read these rows instead of replaying positions.
CREATE TABLE segments (
  id          text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('trip', 'stop')),
  vehicle_id  text NOT NULL,
  company_id  text,
  device_id   text NOT NULL,
  start_ts    timestamptz NOT NULL,
  end_ts      timestamptz NOT NULL,
  start_lat   double precision NOT NULL,
  start_lon   double precision NOT NULL,
  end_lat     double precision NOT NULL,
  end_lon     double precision NOT NULL,
  distance_km double precision NOT NULL,
  max_speed   real NOT NULL,
  avg_speed   real NOT NULL,
  idle_ms     bigint NOT NULL,
  closed      boolean NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX segments_vehicle_start_idx ON segments (vehicle_id, start_ts);
CREATE INDEX segments_company_start_idx ON segments (company_id, start_ts);
`,
  },
  {
    version: 6,
    name: 'domain-settings',
    sql: `
-- Overrides of the vehicle domain settings (thresholds of filters, motion and events): a JSON
-- object with keys of actors/domain/domain-settings.ts; the vehicle's win over its company's.
ALTER TABLE companies ADD COLUMN settings jsonb CHECK (settings IS NULL OR jsonb_typeof(settings) = 'object');
ALTER TABLE vehicles ADD COLUMN settings jsonb CHECK (settings IS NULL OR jsonb_typeof(settings) = 'object');
`,
  },
  {
    version: 7,
    name: 'report-indexes',
    sql: `
-- Reports page trips and stops by (start_ts, id) of one kind, per vehicle or per company: these
-- indexes return a page in its order, so a page reads its rows and stops (docs/storage.md).
CREATE INDEX segments_vehicle_kind_start_idx ON segments (vehicle_id, kind, start_ts, id);
CREATE INDEX segments_company_kind_start_idx ON segments (company_id, kind, start_ts, id);
-- Events of some types of one vehicle (?type=, and the overspeed count of the summary).
CREATE INDEX events_vehicle_type_ts_idx ON events (vehicle_id, type, ts);
`,
  },
  {
    version: 8,
    name: 'reference-geofences-drivers-groups',
    sql: `
-- Geofences get a typed shape (polygon, circle, corridor; the old polygon column still reads),
-- a speed limit of their own and a dwell time; drivers a unique id (what a device reports);
-- vehicle groups a table. Changes to all three are announced like those of migration 4.
ALTER TABLE geofences ADD COLUMN shape jsonb;
ALTER TABLE geofences ALTER COLUMN polygon DROP NOT NULL;
ALTER TABLE geofences ADD COLUMN speed_limit double precision CHECK (speed_limit IS NULL OR speed_limit > 0);
ALTER TABLE geofences ADD COLUMN dwell_s double precision CHECK (dwell_s IS NULL OR dwell_s >= 0);
ALTER TABLE geofences ADD CONSTRAINT geofences_shape_present CHECK (shape IS NOT NULL OR polygon IS NOT NULL);

ALTER TABLE drivers ADD COLUMN unique_id text UNIQUE;

CREATE TABLE vehicle_groups (
  id          text PRIMARY KEY,
  company_id  text NOT NULL REFERENCES companies (id),
  name        text NOT NULL,
  vehicle_ids text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX vehicle_groups_company_idx ON vehicle_groups (company_id);

CREATE TRIGGER geofences_notify AFTER INSERT OR UPDATE OR DELETE ON geofences
  FOR EACH ROW EXECUTE FUNCTION fleetline_reference_notify('geofence', 'id');
CREATE TRIGGER drivers_notify AFTER INSERT OR UPDATE OR DELETE ON drivers
  FOR EACH ROW EXECUTE FUNCTION fleetline_reference_notify('driver', 'id');
CREATE TRIGGER vehicle_groups_notify AFTER INSERT OR UPDATE OR DELETE ON vehicle_groups
  FOR EACH ROW EXECUTE FUNCTION fleetline_reference_notify('group', 'id');
`,
  },
  {
    version: 9,
    name: 'vehicle-type',
    sql: `
-- What kind of vehicle (the fleet's own words: truck, bus, van…): the view carries it in full
-- fields and subscriptions filter by it (filter.type).
ALTER TABLE vehicles ADD COLUMN type text CHECK (type IS NULL OR length(type) BETWEEN 1 AND 32);
`,
  },
];
