//! The workloads, generic over the contender. Each module has the measurement itself and a
//! `rep` that runs it once for every selected contender and adds the rows.

pub mod floor;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod process;
pub mod w1;
pub mod w2;
pub mod w3;
pub mod w4;
pub mod w5;
pub mod w6;
