//! Every integration test, one binary: each file of tests/ is a module of it (one link
//! of drdrill and its crates instead of one per file: issue 71's budget). A module's tests
//! are named `<file>::<test>`; nextest runs each test in a process of its own, and the
//! groups in .config/nextest.toml pick them by module (`test(/^region::/)`).
mod common;
mod reads_checks;

mod alerts;
mod campaign;
mod docs;
mod drills;
mod engine;
mod external;
mod external_cluster;
mod external_monitoring;
mod external_sentinel;
mod files;
mod galera;
mod host_load;
mod images;
mod interrupt;
mod judgement;
mod lag;
mod layers;
mod lifecycle;
mod logical_dr;
mod mariadb;
mod monitoring_sites;
mod multi_active;
mod network;
mod objects;
mod orchestrated;
mod outside_outage;
mod pitr;
mod proxy;
mod reads;
mod redis_cluster;
mod region;
mod restore;
mod rsync_archive;
mod seed_settings;
mod services;
mod validate_hostile;
mod validate_rules;
