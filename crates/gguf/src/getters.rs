//! Typed metadata getters. Errors name the key and what was found.

use crate::value::Value;
use crate::{GgufError, GgufFile};

fn wrong(key: &str, expected: &'static str, found: &Value) -> GgufError {
    GgufError::WrongType {
        key: key.to_owned(),
        expected,
        found: found.describe(),
    }
}

impl GgufFile {
    /// The value of `key`, or [`GgufError::MissingKey`].
    pub fn require(&self, key: &str) -> Result<&Value, GgufError> {
        self.get(key)
            .ok_or_else(|| GgufError::MissingKey(key.to_owned()))
    }

    /// Any integer type holding a non-negative value.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        let v = self.require(key)?;
        v.as_u64().ok_or_else(|| {
            let expected = if v.as_i64().is_some() {
                "a non-negative integer"
            } else {
                "an integer"
            };
            wrong(key, expected, v)
        })
    }

    /// Any integer type holding a value that fits an `i64`.
    pub fn get_i64(&self, key: &str) -> Result<i64, GgufError> {
        let v = self.require(key)?;
        v.as_i64().ok_or_else(|| wrong(key, "an integer", v))
    }

    /// Like [`GgufFile::get_u64`], also checking that the value fits a `usize`.
    pub fn get_usize(&self, key: &str) -> Result<usize, GgufError> {
        let v = self.require(key)?;
        v.as_u64()
            .and_then(|x| usize::try_from(x).ok())
            .ok_or_else(|| wrong(key, "a non-negative integer that fits usize", v))
    }

    /// `f32`, `f64` (narrowed) or any integer type.
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        let v = self.require(key)?;
        v.as_f64()
            .map(|x| x as f32)
            .ok_or_else(|| wrong(key, "a number", v))
    }

    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        let v = self.require(key)?;
        v.as_str().ok_or_else(|| wrong(key, "a string", v))
    }

    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        let v = self.require(key)?;
        v.as_bool().ok_or_else(|| wrong(key, "a bool", v))
    }

    /// An array whose elements are all strings.
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        self.array_of(key, "an array of strings", Value::as_str)
    }

    /// An array whose elements are all numbers (f32, f64 narrowed, or integers).
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, GgufError> {
        self.array_of(key, "an array of numbers", |v| v.as_f64().map(|x| x as f32))
    }

    /// An array whose elements are all integers that fit an `i64`.
    pub fn get_i64_array(&self, key: &str) -> Result<Vec<i64>, GgufError> {
        self.array_of(key, "an array of integers", Value::as_i64)
    }

    fn array_of<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        convert: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Vec<T>, GgufError> {
        let v = self.require(key)?;
        let items = v.as_array().ok_or_else(|| wrong(key, expected, v))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                convert(item).ok_or_else(|| GgufError::WrongType {
                    key: key.to_owned(),
                    expected,
                    found: format!("{} at element #{i}", item.describe()),
                })
            })
            .collect()
    }
}
