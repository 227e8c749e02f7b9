//! Provisioning templates (https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html):
//! parsing a template body and evaluating it with a set of parameters into a plan of the
//! resources to register (`template.rs`), with the intrinsic functions AWS documents
//! (`intrinsics.rs`) and those it borrows from CloudFormation: conditions and `Fn::If`
//! (`intrinsics/conditions.rs`), `Fn::GetAtt` (`intrinsics/attributes.rs`). Pure: the
//! provisioning service reads what exists and commits the plan.

mod intrinsics;
mod template;

pub use template::{
    CertificateSource, CertificateSpec, Override, Plan, PolicySpec, Template, ThingSpec,
    MAX_TEMPLATE_CHARS,
};

#[cfg(test)]
mod condition_tests;
#[cfg(test)]
mod tests;
