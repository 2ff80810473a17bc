"""Extension objects, created unbound and bound to an app in create_app."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from surveyd.api.envelope import EnvelopeApi
from surveyd.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = EnvelopeApi()
babel = Babel()
login_manager = LoginManager()
