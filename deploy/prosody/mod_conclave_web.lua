-- mod_conclave_web: serves Conclave's browser client (the files `web/build.sh` writes to
-- web/dist/) on Prosody's HTTP server, the same origin as its XMPP WebSocket.
--
--   conclave_web_root = "/usr/share/conclave/web"     -- folder of the built files
--   conclave_web_config = "/etc/conclave/web.json"    -- served as /config.json
--
-- `/` and any other single path segment that is not a file (`/<room>`, the meeting URL)
-- get index.html; files of the root are served as they are; nothing below the root's top
-- level and no `..` is ever served. Every answer forbids loading anything from another
-- origin (Content-Security-Policy).
module:depends("http");

local lfs = require "lfs";
local json = require "util.json";

local root = module:get_option_path("conclave_web_root", nil, "config");
local config_file = module:get_option_path("conclave_web_config", nil, "config");
if not root then
	module:log("error", "conclave_web_root is not set: the web client is not served");
end
if not config_file then
	module:log("error", "conclave_web_config is not set: /config.json is not served");
end

local types = {
	html = "text/html; charset=utf-8",
	js = "text/javascript; charset=utf-8",
	css = "text/css; charset=utf-8",
	txt = "text/plain; charset=utf-8",
	json = "application/json",
	map = "application/json",
	svg = "image/svg+xml",
	png = "image/png",
	ico = "image/x-icon",
	wasm = "application/wasm",
};

local function read_file(path)
	local f = io.open(path, "rb");
	if not f then return nil; end
	local data = f:read("*a");
	f:close();
	return data;
end

-- The WebSocket's origin when config.json names an absolute ws:// or wss:// URL; a path
-- (resolved against the page's origin) is covered by 'self'.
local function websocket_origin()
	local data = config_file and read_file(config_file);
	local ok, cfg = pcall(json.decode, data or "");
	if not ok or type(cfg) ~= "table" or type(cfg.websocket) ~= "string" then
		return nil;
	end
	return cfg.websocket:match("^(wss?://[^/]+)");
end

local function policy()
	local connect = "'self'";
	local ws = websocket_origin();
	if ws then connect = connect .. " " .. ws; end
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
		.. "media-src 'self' blob:; connect-src " .. connect .. "; worker-src 'self'; "
		.. "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
end

local function send(event, data, content_type, cacheable)
	local headers = event.response.headers;
	headers.content_type = content_type;
	headers.content_security_policy = policy();
	headers.x_content_type_options = "nosniff";
	headers.referrer_policy = "no-referrer";
	headers.permissions_policy = "camera=(self), microphone=(self), display-capture=(self)";
	headers.cache_control = cacheable and "max-age=300" or "no-cache";
	return event.response:send(data);
end

local function is_file(path)
	return lfs.attributes(path, "mode") == "file";
end

local function serve(event, path)
	if not root then return 404; end
	path = (path or ""):gsub("^/", "");
	if path:find("%.%.") or path:find("[/\\%z]") then
		return path:find("%.%.") and 400 or 404;
	end
	if path == "config.json" then
		local data = config_file and read_file(config_file);
		if not data then return 404; end
		return send(event, data, types.json, false);
	end
	local file = root .. "/" .. path;
	if path ~= "" and path:sub(1, 1) ~= "." and is_file(file) then
		local data = read_file(file);
		if not data then return 403; end
		local ext = path:match("%.([%w]+)$");
		return send(event, data, types[ext] or "application/octet-stream", ext ~= "html");
	end
	-- The start page, or a meeting URL: the page itself decides.
	if path == "" or path:match("^%w[%w._-]*$") then
		local data = read_file(root .. "/index.html");
		if not data then return 404; end
		return send(event, data, types.html, false);
	end
	return 404;
end

module:provides("http", {
	default_path = "/";
	route = {
		["GET /"] = serve;
		["GET /*"] = serve;
	};
});
