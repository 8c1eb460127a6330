//! logpack's HTTP API (PRODUCT.md §11).
