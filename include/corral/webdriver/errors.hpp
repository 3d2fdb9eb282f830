// WebDriver's error shape (W3C WebDriver, "Errors"): every answer corral
// itself gives on a WebDriver route is {"value":{"error","message",
// "stacktrace":""}} with the status the spec gives that error, so Selenium
// clients raise their typed exceptions (InvalidSessionIdException, ...).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "corral/server/http_message.hpp"
#include "corral/server/router.hpp"
#include "corral/util/error.hpp"

namespace corral {

/// The paths corral serves WebDriver on, as a Router pattern: /session...,
/// /status, and the same under kHubPrefix.
std::string webdriver_paths_pattern();

/// What a WebDriver route declares (router.hpp): `access` (the token, also
/// as Basic auth's password, unless it says otherwise) and W3C's shape for
/// the refusals of the checks, so Selenium raises an exception that says
/// what happened.
RouteRules webdriver_rules(Access access = Access::token_or_basic);

/// A refusal of corral's own ("unauthorized", ...) as a W3C error with
/// the same status: the ErrorShape of WebDriver routes.
HttpResponse w3c_refusal(int status, const std::string& code, const std::string& message);

/// `body` as a WebDriver answer: JSON in UTF-8, not to be cached.
HttpResponse webdriver_json(int status, const nlohmann::json& body);

/// {"value":{"error":error,"message":message,"stacktrace":""}} with `status`.
HttpResponse webdriver_error(int status, const std::string& error, const std::string& message);
HttpResponse invalid_session_id(const std::string& message = "no WebDriver session with that id");
HttpResponse invalid_argument(const std::string& message);
HttpResponse session_not_created(const std::string& message);

/// A refusal of corral's own (code "unauthorized", "host_not_allowed", ...)
/// as the W3C error a WebDriver client understands, with the same status.
std::string webdriver_error_name_for(int status);

/// The answer to a failed new session, from SessionManager::open's error:
/// a request that can never be granted (EINVAL, EBADMSG, EOPNOTSUPP) is
/// 400 invalid argument; no room within the wait, a browser that did not
/// start, a daemon shutting down are 500 session not created.
HttpResponse new_session_failure(const Error& error);

}  // namespace corral
