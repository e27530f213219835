//! The values templates compute with: Go's `interface{}` trees, shared rather than copied.
//!
//! A [`Value`] is cheap to clone: strings, lists, maps and objects are reference counted, so a
//! field access never copies the tree below it. Maps are shared *and* mutable (Sprig's `set`,
//! `unset` and `merge` change a dict in place, and every alias sees the change, as in Go); lists
//! are shared and immutable (no Go template function mutates a slice in place).
//!
//! Maps are ordered by key bytes, which is the order Go's `range`, `fmt` and `encoding/json` use.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use parking_lot::RwLock;

/// A value inside a template: one of Go's dynamic types as Helm and Sprig produce them.
#[derive(Clone, Default)]
pub enum Value {
    /// A nil `interface{}` (YAML `null`, a missing map key under `missingkey=zero`).
    #[default]
    Nil,
    Bool(bool),
    /// Go `int` (template literals, `len`, `atoi`, `int`).
    Int(i64),
    /// Go `int64` (Sprig's integer math: `add`, `sub`, `mul`, `max`, `int64`, …). Prints and
    /// compares (`eq`, `lt`) as an `int`, but `%T`/`typeOf` say `int64`, `deepEqual` tells
    /// them apart and an `int` parameter rejects it, as in Go.
    Int64(i64),
    /// Go `float64` (every number that came from YAML or JSON, Sprig's float math).
    Float(f64),
    String(Arc<str>),
    /// `[]interface{}` and the other slice types Sprig returns (`[]string`, `[]int`; see
    /// [`ListType`]).
    List(List),
    /// `map[string]interface{}`: shared and mutable.
    Map(Map),
    /// A Go value with fields and methods (`.Files`, `.Capabilities`, a semver, a time).
    Object(Arc<dyn Object>),
}

impl Value {
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// A `[]interface {}`.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(List::new(items))
    }

    /// A slice of another Go type (`[]string`, `[]int`, …); the items must be of that type.
    pub fn typed_list(items: Vec<Value>, go_type: ListType) -> Value {
        Value::List(List::typed(items, go_type))
    }

    pub fn map(map: Map) -> Value {
        Value::Map(map)
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The number of an integer of any Go integer type (`int`, `int64`).
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Int(i) | Value::Int64(i) => Some(*i),
            _ => None,
        }
    }

    /// Go's truth: false for the zero value of the type (`false`, 0, "", empty list or map,
    /// nil), true otherwise.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) | Value::Int64(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => o.truthy(),
        }
    }

    /// The Go type name as `%T` prints it (`string`, `float64`, `[]interface {}`,
    /// `map[string]interface {}`); `<nil>` for nil.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Int64(_) => "int64".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::List(l) => l.go_type().name().into(),
            Value::Map(m) => m.go_type_name().into(),
            Value::Object(o) => o.type_name().into(),
        }
    }

    /// The Go `reflect.Kind` name (`string`, `int`, `float64`, `slice`, `map`, `ptr`, `struct`,
    /// `invalid` for nil), as Sprig's `kindOf` prints it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => o.kind_name(),
        }
    }

    /// A deep copy (Sprig's `deepCopy`): new maps and lists all the way down, of the same Go
    /// types.
    pub fn deep_copy(&self) -> Value {
        match self {
            Value::List(items) => Value::typed_list(
                items.iter().map(Value::deep_copy).collect(),
                items.go_type(),
            ),
            Value::Map(m) => Value::Map(m.deep_copy()),
            other => other.clone(),
        }
    }

    /// Whether the value, expanded as an encoder walks it (a shared list or map counted each
    /// time it appears), has more than `budget` nodes and string bytes. Stops past the budget,
    /// so it costs at most `budget` steps even for a tree that shares its containers.
    pub fn expanded_size_exceeds(&self, budget: usize) -> bool {
        /// Deeper containers are left to the encoders' own depth limits.
        const MAX_WALK_DEPTH: usize = 1000;
        fn exceeds(v: &Value, left: &mut usize, depth: usize) -> bool {
            let mut take = |n: usize| match left.checked_sub(n) {
                Some(l) => {
                    *left = l;
                    false
                }
                None => true,
            };
            match v {
                Value::String(s) => take(1 + s.len()),
                Value::List(items) => {
                    take(1)
                        || (depth < MAX_WALK_DEPTH
                            && items.iter().any(|x| exceeds(x, left, depth + 1)))
                }
                Value::Map(m) => {
                    take(1)
                        || (depth < MAX_WALK_DEPTH
                            && m.with(|entries| {
                                entries.iter().any(|(k, x)| {
                                    left.checked_sub(k.len()).is_none_or(|l| {
                                        *left = l;
                                        exceeds(x, left, depth + 1)
                                    })
                                })
                            }))
                }
                _ => take(1),
            }
        }
        exceeds(self, &mut budget.clone(), 0)
    }

    /// Whether a map contains itself (through `set`): such a value has no finite expansion;
    /// encoders report the cycle as Go does. Linear in the distinct containers.
    pub fn contains_cycle(&self) -> bool {
        use std::collections::HashSet;
        fn children(v: &Value) -> Option<(usize, Vec<Value>)> {
            match v {
                Value::List(l) => Some((Arc::as_ptr(l.items()) as usize, l.to_vec())),
                Value::Map(m) => Some((m.addr(), m.with(|e| e.values().cloned().collect()))),
                _ => None,
            }
        }
        let (mut on_path, mut done) = (HashSet::new(), HashSet::new());
        // (container address, its children not yet visited)
        let mut stack: Vec<(usize, Vec<Value>)> = Vec::new();
        if let Some(root) = children(self) {
            on_path.insert(root.0);
            stack.push(root);
        }
        while let Some((addr, pending)) = stack.last_mut() {
            let addr = *addr;
            let Some(next) = pending.pop() else {
                on_path.remove(&addr);
                done.insert(addr);
                stack.pop();
                continue;
            };
            if let Some((a, kids)) = children(&next) {
                if on_path.contains(&a) {
                    return true;
                }
                if !done.contains(&a) {
                    on_path.insert(a);
                    stack.push((a, kids));
                }
            }
        }
        false
    }

    /// Identity of shared containers: true when both are the same map (or list) object.
    pub fn same_container(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Map(a), Value::Map(b)) => a.ptr_eq(b),
            (Value::List(a), Value::List(b)) => a.ptr_eq(b),
            _ => false,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i64::from(i))
    }
}
impl From<usize> for Value {
    fn from(i: usize) -> Value {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}
impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::list(items)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Map(m)
    }
}

/// Structural debug output (not Go's formatting: that is [`crate::gofmt`]'s job).
impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Int64(i) => write!(f, "int64({i})"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(l) => fmt::Debug::fmt(l, f),
            Value::Map(m) => m.with(|entries| f.debug_map().entries(entries.iter()).finish()),
            Value::Object(o) => write!(f, "{}({:?})", o.type_name(), o),
        }
    }
}

/// Structural equality of data (maps and lists compared by content, objects by identity).
/// Go's `eq` has stricter rules; those live in the executor.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) | (Value::Int64(a), Value::Int64(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a.ptr_eq(b) || a.with(|x| b.with(|y| x == y)),
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// The Go type of a [`List`]: `[]interface {}` unless a function returned another slice type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListType {
    /// `[]interface {}`: any items.
    #[default]
    Interface,
    /// `[]string` (`splitList`, `keys`, `sortAlpha`, `toStrings`, `regexFindAll`): strings.
    String,
    /// `[]int` (`until`, `untilStep`): [`Value::Int`]s.
    Int,
    /// `[]uint8`, i.e. `[]byte` (Helm's `.Files.GetBytes`): [`Value::Int`]s from 0 to 255.
    /// `%s`, `%q`, `%x` and `toString` print it as a string, `%v` as numbers, JSON as base64.
    Byte,
    /// `[][]interface {}` (`chunk`): `[]interface {}` lists.
    InterfaceList,
}

impl ListType {
    /// The type as `%T` prints it.
    pub fn name(self) -> &'static str {
        match self {
            ListType::Interface => "[]interface {}",
            ListType::String => "[]string",
            ListType::Int => "[]int",
            ListType::Byte => "[]uint8",
            ListType::InterfaceList => "[][]interface {}",
        }
    }

    /// The element type as `%#v` prints a slice literal (`[]string{"a"}`); Go spells `[]uint8`
    /// as `[]byte` there.
    pub fn literal_prefix(self) -> &'static str {
        match self {
            ListType::Byte => "[]byte",
            other => other.name(),
        }
    }
}

/// A shared, immutable Go slice: its items and its Go type ([`ListType`]).
///
/// Dereferences to the items (`&[Value]`); clones share them.
#[derive(Clone, Default)]
pub struct List {
    items: Arc<Vec<Value>>,
    go_type: ListType,
}

impl List {
    /// A `[]interface {}`.
    pub fn new(items: Vec<Value>) -> List {
        List {
            items: Arc::new(items),
            go_type: ListType::Interface,
        }
    }

    /// A slice of Go type `go_type`; the items must be of its element type.
    pub fn typed(items: Vec<Value>, go_type: ListType) -> List {
        List {
            items: Arc::new(items),
            go_type,
        }
    }

    /// The slice's Go type.
    pub fn go_type(&self) -> ListType {
        self.go_type
    }

    /// Whether both share the same items (whatever their Go types).
    pub fn ptr_eq(&self, other: &List) -> bool {
        Arc::ptr_eq(&self.items, &other.items)
    }

    /// The items, shared.
    pub fn items(&self) -> &Arc<Vec<Value>> {
        &self.items
    }

    /// The items, without a copy when this is the only handle.
    pub fn into_vec(self) -> Vec<Value> {
        Arc::try_unwrap(self.items).unwrap_or_else(|items| items.as_ref().clone())
    }
}

impl Deref for List {
    type Target = [Value];

    fn deref(&self) -> &[Value] {
        &self.items
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.go_type == other.go_type && self.items == other.items
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.go_type != ListType::Interface {
            f.write_str(self.go_type.name())?;
        }
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl From<Vec<Value>> for List {
    fn from(items: Vec<Value>) -> List {
        List::new(items)
    }
}

/// A Go map type other than `map[string]interface {}` that a [`Map`] can be typed as, for
/// `%T`/`typeOf`, error messages and Go's assignability rules. The entries are the same either
/// way; only the (static) type differs, as after a Go conversion `chartutil.Values(m)`.
#[derive(Debug, PartialEq, Eq)]
pub struct MapType {
    /// The type as `%T` prints it.
    pub name: &'static str,
    /// Whether a value of this type can be passed where a `map[string]interface {}` is
    /// expected: true for a named type whose underlying type is `map[string]interface {}`
    /// (Go's assignability rule), false for a map of another element type.
    pub assignable_to_generic: bool,
}

impl MapType {
    /// Helm's `chartutil.Values` (a named `map[string]interface{}`): the type of `.Values`,
    /// `.Template` and of the top-level data Helm executes templates with.
    pub const CHARTUTIL_VALUES: &'static MapType = &MapType {
        name: "chartutil.Values",
        assignable_to_generic: true,
    };

    /// `map[string]string` (Sprig's `split`).
    pub const STRING_TO_STRING: &'static MapType = &MapType {
        name: "map[string]string",
        assignable_to_generic: false,
    };
}

/// A shared, mutable `map[string]interface{}` with Go's (byte-wise) key order.
///
/// A map handle may carry a Go type other than `map[string]interface {}` ([`MapType`]); clones
/// keep it, and [`Map::with_go_type`] / [`Map::untyped`] make handles of the same entries with
/// another type.
#[derive(Clone, Default)]
pub struct Map {
    entries: Arc<RwLock<BTreeMap<String, Value>>>,
    go_type: Option<&'static MapType>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn from_btree(entries: BTreeMap<String, Value>) -> Map {
        Map {
            entries: Arc::new(RwLock::new(entries)),
            go_type: None,
        }
    }

    /// The map's Go type when it is not `map[string]interface {}`.
    pub fn go_type(&self) -> Option<&'static MapType> {
        self.go_type
    }

    /// The Go type as `%T` prints it.
    pub fn go_type_name(&self) -> &'static str {
        self.go_type.map_or("map[string]interface {}", |t| t.name)
    }

    /// A handle to the same entries typed as `go_type` (Go's `chartutil.Values(m)`).
    pub fn with_go_type(&self, go_type: &'static MapType) -> Map {
        Map {
            entries: self.entries.clone(),
            go_type: Some(go_type),
        }
    }

    /// A handle to the same entries typed as `map[string]interface {}`.
    pub fn untyped(&self) -> Map {
        Map {
            entries: self.entries.clone(),
            go_type: None,
        }
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.entries.read().get(key).cloned()
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.read().contains_key(key)
    }

    pub fn insert(&self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.entries.write().insert(key.into(), value)
    }

    pub fn remove(&self, key: &str) -> Option<Value> {
        self.entries.write().remove(key)
    }

    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.read().is_empty()
    }

    /// The keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.entries.read().keys().cloned().collect()
    }

    /// A snapshot of the entries, sorted by key (values are shared, not copied).
    pub fn entries(&self) -> Vec<(String, Value)> {
        self.entries
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Read access to the entries without cloning them.
    pub fn with<R>(&self, f: impl FnOnce(&BTreeMap<String, Value>) -> R) -> R {
        f(&self.entries.read())
    }

    /// Write access to the entries.
    pub fn with_mut<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Value>) -> R) -> R {
        f(&mut self.entries.write())
    }

    /// A new map with the same entries (values shared) and the same Go type: Go's shallow
    /// map copy.
    pub fn shallow_copy(&self) -> Map {
        Map {
            entries: Arc::new(RwLock::new(self.entries.read().clone())),
            go_type: self.go_type,
        }
    }

    /// A new map with copies of the entries all the way down, of the same Go type (as
    /// `copystructure` copies).
    pub fn deep_copy(&self) -> Map {
        let entries = self
            .entries
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.deep_copy()))
            .collect();
        Map {
            entries: Arc::new(RwLock::new(entries)),
            go_type: self.go_type,
        }
    }

    /// The address of the entries, an identity for cycle detection.
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.entries) as *const () as usize
    }

    /// Whether both are handles to the same entries (whatever their Go types).
    pub fn ptr_eq(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.entries, &other.entries)
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with(|entries| f.debug_map().entries(entries.iter()).finish())
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Map {
        Map::from_btree(iter.into_iter().collect())
    }
}

/// A Go value with fields and methods, e.g. Helm's `.Files`, `.Capabilities.APIVersions`, a
/// `*semver.Version` or a `time.Time`.
///
/// The executor resolves `.Name` on an object as Go does: a method first
/// ([`Object::call_method`]), then a field ([`Object::field`]).
pub trait Object: fmt::Debug + Send + Sync {
    /// `%T`: e.g. `*semver.Version`, `time.Time`, `chart.Files`.
    fn type_name(&self) -> &str;

    /// `reflect.Kind` name: `struct`, `ptr`, `map`, …
    fn kind_name(&self) -> &'static str {
        "struct"
    }

    /// Truth in `if`: structs are always true, nil pointers false.
    fn truthy(&self) -> bool {
        true
    }

    /// A struct field by its Go name, or `None` when there is none.
    fn field(&self, name: &str) -> Option<Value> {
        let _ = name;
        None
    }

    /// Calls a method by its Go name. `None` when there is no such method.
    fn call_method(
        &self,
        name: &str,
        args: &[Value],
    ) -> Option<Result<Value, crate::funcs::FuncError>> {
        let _ = (name, args);
        None
    }

    /// How `fmt` prints it with `%v` / `%s` (a `String()` method, or Go's struct printing).
    fn go_string(&self) -> String;

    /// The data view used by `toYaml`/`toJson` (JSON field names), if it has one.
    fn to_data(&self) -> Option<Value> {
        None
    }

    /// What `range` walks (and `len` counts) when the object is a Go map or slice: its
    /// (key, element) pairs in Go's order (a map's keys sorted, a slice's indexes as
    /// [`Value::Int`]). `None`, the default, when it cannot be iterated: `range` then fails
    /// with `range can't iterate over …` and `len` with `len of type …`.
    fn range_entries(&self) -> Option<Vec<(Value, Value)>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_shared_between_clones() {
        let m = Map::new();
        let alias = Value::Map(m.clone());
        m.insert("a", Value::Int(1));
        assert_eq!(alias.as_map().unwrap().get("a"), Some(Value::Int(1)));
    }

    #[test]
    fn deep_copy_detaches() {
        let inner = Map::new();
        let outer = Map::new();
        outer.insert("inner", Value::Map(inner.clone()));
        let copy = Value::Map(outer).deep_copy();
        inner.insert("x", Value::Bool(true));
        let copied_inner = copy.as_map().unwrap().get("inner").unwrap();
        assert!(copied_inner.as_map().unwrap().is_empty());
    }

    #[test]
    fn typed_map_handles_share_entries() {
        let m = Map::new();
        let values = m.with_go_type(MapType::CHARTUTIL_VALUES);
        values.insert("a", Value::Int(1));
        assert_eq!(m.get("a"), Some(Value::Int(1)));
        assert!(values.ptr_eq(&m));
        assert_eq!(Value::Map(values.clone()).type_name(), "chartutil.Values");
        assert_eq!(Value::Map(values.clone()).kind_name(), "map");
        assert_eq!(
            Value::Map(values.untyped()).type_name(),
            "map[string]interface {}"
        );
        // Copies keep the type, as Go's copies do.
        assert_eq!(
            Value::Map(values.deep_copy()).type_name(),
            "chartutil.Values"
        );
        assert_eq!(
            Value::Map(values.shallow_copy()).type_name(),
            "chartutil.Values"
        );
    }

    #[test]
    fn truthiness_follows_go_zero_values() {
        assert!(!Value::Nil.truthy());
        assert!(!Value::from("").truthy());
        assert!(!Value::Float(0.0).truthy());
        assert!(Value::from(vec![Value::Nil]).truthy());
        assert!(!Value::Map(Map::new()).truthy());
    }
}
