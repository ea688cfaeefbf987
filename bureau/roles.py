"""The roles of the bureau's people and what each may see and do in every app's admin pages.

Each app declares its models (and so their permissions); the roles cut across
apps, so they are assigned here, above them.
"""

# Model permissions of each role's group, per app label: model name -> actions.
# Scoping (which schools a person sees) is not here but in ``visible_to``; these
# only decide which admin pages and actions exist for the role at all.
VIEW = ("view",)
EDIT = ("view", "change")
MANAGE = ("view", "add", "change")

ROLE_PERMISSIONS = {
    "coordinator": {
        "enrollment": {"student": MANAGE, "enrollment": VIEW, "roster": VIEW, "citizencard": EDIT, "job": VIEW,
                       "hotline": VIEW, "office": VIEW},
        "coordinators": {"coordinator": MANAGE, "notice": VIEW, "handout": MANAGE},
    },
    "district_staff": {
        "enrollment": {
            "city": VIEW, "hotline": VIEW, "office": VIEW, "bank": VIEW, "exemptioncategory": VIEW,
            "insuranceyear": VIEW, "channelrule": VIEW, "school": MANAGE, "schoolaccount": MANAGE,
            "membership": VIEW, "student": EDIT, "exemption": MANAGE, "enrollment": EDIT, "roster": EDIT,
            "rosterconfirmation": VIEW, "confirmationline": VIEW, "chargecorrection": VIEW, "citizencard": EDIT,
            "job": VIEW, "auditevent": VIEW, "transfer": VIEW, "otherinsurance": EDIT, "otherchannelenrollment": VIEW,
        },
        "coordinators": {"coordinator": EDIT, "coordinatorchange": VIEW, "notice": MANAGE, "handout": VIEW},
        "billing": {"debitbatch": VIEW, "debitinstruction": VIEW, "debitattempt": VIEW, "refund": VIEW,
                    "refundexport": VIEW, "declaration": VIEW, "unbillableconfirmation": VIEW},
        "graduates": {"graduatefeed": VIEW, "graduaterecord": EDIT, "deregistrationrun": VIEW},
    },
    "city_staff": {
        "enrollment": {
            "city": EDIT, "hotline": MANAGE, "office": MANAGE, "bank": MANAGE, "exemptioncategory": MANAGE,
            "insuranceyear": MANAGE, "channelrule": MANAGE + ("delete",), "school": MANAGE, "schoolaccount": MANAGE,
            "membership": MANAGE, "student": EDIT, "exemption": MANAGE, "enrollment": EDIT, "roster": EDIT,
            "rosterconfirmation": EDIT, "confirmationline": VIEW, "chargecorrection": MANAGE,
            "citizencard": EDIT, "job": VIEW, "auditevent": VIEW, "personaldataaccess": VIEW,
            "transfer": VIEW, "otherinsurance": EDIT, "otherchannelenrollment": VIEW,
        },
        "coordinators": {"coordinator": EDIT, "coordinatorchange": VIEW, "notice": MANAGE + ("delete",),
                         "handout": VIEW},
        "billing": {"debitbatch": MANAGE, "debitinstruction": VIEW, "debitattempt": VIEW, "refund": EDIT,
                    "refundexport": VIEW, "declaration": EDIT, "receiptimport": VIEW, "billingfiledownload": VIEW,
                    "unbillableconfirmation": VIEW},
        "graduates": {"graduatefeed": MANAGE, "graduaterecord": EDIT, "deregistrationrun": VIEW},
    },
}


def ensure_role_groups(sender, using="default", apps=None, **kwargs):
    """Create the role groups and grant the permissions of the app just migrated.

    Runs after each app's migrations (after auth created that app's permissions),
    so it only adds grants: a permission a superuser gave a group by hand stays.
    """
    from django.contrib.auth.models import Group, Permission

    for group_name, per_app in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.using(using).get_or_create(name=group_name)
        models = per_app.get(sender.label)
        if not models:
            continue
        codenames = [f"{action}_{model}" for model, actions in models.items() for action in actions]
        perms = Permission.objects.using(using).filter(content_type__app_label=sender.label, codename__in=codenames)
        group.permissions.add(*perms)
