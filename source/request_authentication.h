#pragma once
// The parser for security.istio.io RequestAuthentication in the YAML source: every
// JWTRule field, validated as Istio's webhook and kubectl's strict field
// validation would. Unknown or ill-typed fields make the object invalid, and an
// invalid RequestAuthentication is enforced fail closed (see state/request_authn.h):
// a misspelt `audiences` must never mean "any audience".

#include "source/cluster_types.h"
#include "source/yaml_util.h"

namespace warren::source {

void parseRequestAuthentication(const Doc& d, Snapshot& s);

}  // namespace warren::source
