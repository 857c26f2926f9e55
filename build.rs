//! Re-embed migrations when a migration directory is added or changed (diesel_migrations reads
//! them at compile time).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
