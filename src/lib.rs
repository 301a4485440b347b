pub mod radius;
