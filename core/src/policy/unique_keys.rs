//! A JSON object whose keys must be unique, as containers/image reads
//! policy.json (`paranoidUnmarshalJSONObject`): a scope or transport named
//! twice is an error, not a silent "the last one wins" that would let a
//! second entry loosen the first (issue 15, item 35).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};

#[derive(Debug, Clone)]
pub struct UniqueKeys<V>(pub BTreeMap<String, V>);

impl<V> Default for UniqueKeys<V> {
    fn default() -> Self {
        UniqueKeys(BTreeMap::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueKeys<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Keys<V> {
            type Value = UniqueKeys<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        return Err(A::Error::custom(format!("Duplicate key {key:?}")));
                    }
                    let value = map.next_value()?;
                    out.insert(key, value);
                }
                Ok(UniqueKeys(out))
            }
        }
        d.deserialize_map(Keys(PhantomData))
    }
}
