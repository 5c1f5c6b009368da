//! Compatibility surfaces: other orchestrators' APIs served over Baton's services, so their
//! clients can point at Baton. One module per surface; each translates, none runs a second
//! engine or repeats a rule.

pub mod activiti;
pub mod wecube;
