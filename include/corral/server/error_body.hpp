// corral's one error shape, {"error":{"code","message"}}: every error the
// server, the API and the DevTools proxy answer is built here. (WebDriver
// routes declare W3C's shape instead: webdriver/errors.hpp.)
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "corral/server/http_message.hpp"

namespace corral {

/// {"error":{"code":code,"message":message}}, for a body that adds fields
/// of its own (a close report) before it is sent.
nlohmann::json error_json(const std::string& code, const std::string& message);

/// `body` as JSON answer bytes: bytes that are not UTF-8 (client text in a
/// message) are replaced, never thrown on.
std::string json_text(const nlohmann::json& body);

/// An answer with status `status` and the JSON error as its body.
HttpResponse error_response(int status, const std::string& code, const std::string& message);

}  // namespace corral
