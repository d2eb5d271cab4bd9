// Pieces the batch client shares between its files; not part of the API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nbcore/batch.hpp"

namespace nbcore::batch::detail {

// {"operations": [...], "nextPageToken": "..."} -> the jobs and the token ("" on the last page).
std::vector<Job> parse_list(std::string_view json, std::string& next_page_token);

// The "name" of {"file": {"name": "files/..."}} (an upload's final answer); "" when absent.
std::string uploaded_file_name(std::string_view json);

}  // namespace nbcore::batch::detail
